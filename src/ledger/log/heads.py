"""The stream heads map as the log keeps it: the process's current map, one batch's new
version as an overlay, and the stored form of a node (docs/evidence-format.md, Stream heads
map; docs/design.md §5 Checkpoint).

:mod:`ledger.log.headmap` is the map itself (pure, any :class:`~ledger.log.headmap.NodeStore`).
This module is what the append needs around it:

* which log streams the map holds (:func:`map_stream`) and the heads a batch moves
  (:func:`head_changes`);
* the compact bytes of a node, of a **node group** (the nodes of four levels below a
  position, stored as one row: :func:`encode_group`, :func:`decode_group`, :func:`group_rows`)
  and of a position (:func:`encode_node`, :func:`decode_node`, :func:`encode_prefix`,
  :func:`decode_prefix`), as the ``head_nodes`` table keeps them;
* :class:`CurrentHeads`: the map at the log's current size, held in memory by each process that
  appends, updated only with what is committed. A batch's new version is computed in an
  :class:`OverlayNodeStore` over it (:meth:`CurrentHeads.plan`), written in the batch's
  transaction, and merged (:meth:`CurrentHeads.commit`) only once that transaction has
  committed; versions other processes committed are taken in under the lock
  (:meth:`CurrentHeads.catch_up`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

from ledger.crypto.suites import Profile
from ledger.errors import HeadProofError, IntegrityFailedError
from ledger.log.headmap import (
    EMPTY,
    KEY_BITS,
    HeadMap,
    HeadProof,
    InternalNode,
    LeafNode,
    Node,
    StreamHead,
    head_key,
    leaf_hash,
    node_hash,
    value_hash,
)

__all__ = [
    "CATCH_UP_LEAVES",
    "GROUP_LEVELS",
    "GROUP_SLOTS",
    "INTERNAL_TAGS",
    "LAYOUT",
    "LEAF_TAGS",
    "CurrentHeads",
    "GroupKey",
    "GroupSlots",
    "HeadRow",
    "HeadsBehindError",
    "HeadsUpdate",
    "LatestNodeStore",
    "OverlayNodeStore",
    "decode_group",
    "decode_group_path",
    "decode_node",
    "decode_prefix",
    "encode_group",
    "encode_node",
    "encode_prefix",
    "group_of",
    "group_rows",
    "head_changes",
    "map_stream",
]

HeadRow = tuple[int, int, bytes, bytes]
"""One stored node group version as ``head_nodes`` holds it: (version, depth, prefix, group),
the group's top position's prefix and the group in their stored bytes (:func:`encode_prefix`,
:func:`encode_group`)."""

GroupKey = tuple[int, bytes]
"""A node group's stored position, as ``head_nodes`` keys it: (depth, prefix bytes)."""

GROUP_LEVELS: Final = 4
"""Levels of the map stored in one row: an internal node at a depth that is a multiple of four
(or the root), the internal nodes of the next three levels below it and the leaves of the
next four (at most 15 internal nodes and 16 leaves), much as Diem's Jellyfish Merkle tree
groups its binary nodes. A batch rewrites a group whenever it rewrites any node in it, so the
rows per batch fall about fourfold on deep paths, and more where paths share their top (a
batch moving 100 streams of 100: some 30 rows instead of 240); a proof reads a quarter of the
rows. The storage layout is no part of the evidence format: roots and proofs are unchanged."""

LAYOUT: Final = "groups4"
"""The ``ledger_meta`` value under ``heads_map_layout`` of a database storing node groups; a
database with a heads map and no such value stores one node per row (its first layout), and
``ledger init`` converts it."""

GROUP_SLOTS: Final = (1 << (GROUP_LEVELS + 1)) - 1
"""Slots of a node group: 31 positions, 15 internal nodes and the 16 leaves below them."""
_FIFTH_LEVEL: Final = (1 << GROUP_LEVELS) - 1  # the first slot of a group's leaves-only level
INTERNAL_TAGS: Final = tuple(bytes((slot, 0x01)) for slot in range(GROUP_SLOTS))
"""``slot ‖ 0x01``, what starts an internal node's part of a stored group, by slot."""
LEAF_TAGS: Final = tuple(bytes((slot, 0x00)) for slot in range(GROUP_SLOTS))
"""``slot ‖ 0x00``, what starts a leaf's part of a stored group, by slot."""

CATCH_UP_LEAVES: Final = 5_000
"""How far (in leaves) a process's map may lag the log and still be brought up to date under
the append's lock, from the node versions other processes wrote: at most some 50,000 rows (about
ten per leaf at 10^5 streams), a fraction of a second. A process further behind — one that
rarely appends next to a busy writer — rebuilds its map outside the lock instead
(:class:`HeadsBehindError`), so that the lock is never held for long."""

_INTERNAL: Final = 0x01
_LEAF: Final = 0x00
_HASH: Final = 32
_INTERNAL_SIZE: Final = 1 + 2 * _HASH
_LEAF_SIZE: Final = 1 + _HASH + 8 + _HASH + 8


class HeadsBehindError(Exception):
    """The process's map is more than :data:`CATCH_UP_LEAVES` behind the log: the append rolls
    back, rebuilds the map outside the lock and tries again. Control flow inside a backend's
    append, never seen by callers (hence not a :class:`~ledger.errors.LedgerError`)."""


# --- which streams, which heads ----------------------------------------------------------------


def map_stream(originator_id: UUID | str) -> UUID | None:
    """The map's id of a log stream, or None for a stream the map leaves out.

    Every stream the ledger writes is a UUID (projects are uuid4, the registry a uuid5), and a
    map key is ``H(0x10 ‖ the UUID's 16 bytes)``. eventsourcing's own recorder test suites also
    store text ids (``"test-…"``); they have no UUID, and hashing their text instead would be a
    second kind of key that no verifier knows, so they are left out of the map. The rule is the
    same for the writer, the loader and ``ledger verify``, which see an id as a UUID or as the
    stored text: a text id is in the map only if it is a UUID's canonical form (lowercase,
    hyphenated), so that two spellings of one UUID can never be two streams of one key.
    """
    if isinstance(originator_id, UUID):
        return originator_id
    try:
        parsed = UUID(originator_id)
    except (ValueError, TypeError, AttributeError):
        return None
    return parsed if str(parsed) == originator_id else None


def head_changes(leaves: Iterable[tuple[UUID | str, int, bytes, int]]) -> dict[UUID, StreamHead]:
    """The heads a run of new leaves moves: for each stream of the map, its last leaf's
    ``(seq, entry hash, leaf index)``. ``leaves`` are (originator id, seq, entry hash, leaf
    index) in log order."""
    last: dict[UUID, tuple[int, bytes, int]] = {}
    for originator_id, seq, entry_hash, leaf_index in leaves:
        stream = map_stream(originator_id)
        if stream is not None:
            last[stream] = (seq, entry_hash, leaf_index)
    return {stream: StreamHead(*head) for stream, head in last.items()}


# --- stored form -------------------------------------------------------------------------------


def encode_prefix(depth: int, prefix: int) -> bytes:
    """A position's prefix (its first ``depth`` key bits) as ``ceil(depth / 8)`` bytes, the
    bits left-aligned and the rest zero: the key's first bytes with the bits below cleared."""
    size = (depth + 7) // 8
    return (prefix << (size * 8 - depth)).to_bytes(size, "big")


def decode_prefix(depth: int, data: bytes) -> int:
    """:func:`encode_prefix` reversed; ValueError unless ``data`` is exactly that form."""
    size = (depth + 7) // 8
    if not 0 <= depth <= KEY_BITS or len(data) != size:
        raise ValueError(f"a prefix of depth {depth} is {size} bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    spare = size * 8 - depth
    if value & ((1 << spare) - 1):
        raise ValueError(f"prefix of depth {depth} has bits set beyond it")
    return value >> spare


def encode_node(node: Node) -> bytes:
    """A node's stored bytes: what it holds, not its hashes (derived on reading).

    internal: ``0x01 ‖ left ‖ right`` (65 bytes); leaf: ``0x00 ‖ key ‖ value`` (81 bytes: the
    32-byte key, then the head's 48-byte value ``seq ‖ entry hash ‖ leaf index``).
    """
    if isinstance(node, InternalNode):
        return b"\x01" + node.left + node.right
    return b"\x00" + node.key + node.head.value()


def decode_node(profile: Profile, data: bytes) -> Node:
    """:func:`encode_node` reversed, with the node's hashes computed under ``profile``.

    Raises ValueError if ``data`` is not a node's stored form (an impossible head included).
    """
    if len(data) == _INTERNAL_SIZE and data[0] == _INTERNAL:
        left, right = data[1:33], data[33:]
        return InternalNode(left, right, node_hash(profile, left, right))
    if len(data) == _LEAF_SIZE and data[0] == _LEAF:
        key = data[1:33]
        try:
            head = StreamHead(int.from_bytes(data[33:41], "big"), data[41:73],
                              int.from_bytes(data[73:81], "big"))
        except HeadProofError as exc:
            raise ValueError(f"a stored heads-map leaf with an impossible head: {exc}") from None
        digest = value_hash(profile, head)
        return LeafNode(key, head, digest, leaf_hash(profile, key, digest))
    raise ValueError(f"not a stored heads-map node ({len(data)} bytes, tag {data[:1].hex()})")


def group_of(depth: int, prefix: int, *, leaf: bool) -> tuple[int, int]:
    """The top position of the group holding the node at ``(depth, prefix)``.

    A group's top is an internal node at a depth that is a multiple of four (or the root,
    whatever it is); the group holds the internal nodes of its top's first four levels and
    the leaves of the five: a leaf right below a group's last level is kept in that group,
    never alone in a row of its own.
    """
    above = depth - 1 if leaf and depth else depth
    top = above - above % GROUP_LEVELS
    return top, prefix >> (depth - top)


def _group_bytes(top: int, top_prefix: int, written: Mapping[tuple[int, int], Node],
                 get: Callable[[tuple[int, int]], Node | None]) -> bytes:
    """The stored bytes (:func:`encode_group`) of the group at ``(top, top_prefix)``: its
    :func:`_group_slots` joined."""
    return b"".join(_group_slots(top, top_prefix, written.get, get))


def _group_slots(top: int, top_prefix: int, find: Callable[[tuple[int, int]], Node | None],
                 get: Callable[[tuple[int, int]], Node | None]) -> list[bytes]:
    """The group at ``(top, top_prefix)`` as its 31 slots' stored parts (``slot ‖ node``,
    empty where no node is), walking it level by level: slot ``2^i - 1 + s`` is the node
    ``i`` levels below the top at offset ``s`` (levels 0–3: internal nodes and leaves; level
    4: leaves only). Only the children an internal node records as not empty are looked up:
    through ``find`` first (the nodes the version writes, the most looked up), then through
    ``get`` (each takes a position; a dict's ``get`` will do).
    """
    parts = [b""] * GROUP_SLOTS
    node = find((top, top_prefix)) or get((top, top_prefix))
    if node is None:
        return parts
    level: list[tuple[int, Node]] = [(0, node)]
    for i in range(GROUP_LEVELS + 1):
        base = (1 << i) - 1
        below: list[tuple[int, Node]] = []
        depth, shifted, last = top + i + 1, top_prefix << (i + 1), i == GROUP_LEVELS
        for offset, current in level:
            if type(current) is LeafNode:
                parts[base + offset] = (LEAF_TAGS[base + offset] + current.key
                                        + current.head.value())
                continue
            assert isinstance(current, InternalNode)
            parts[base + offset] = INTERNAL_TAGS[base + offset] + current.left + current.right
            if last:
                continue
            if current.left != EMPTY:
                position = (depth, shifted | 2 * offset)
                child = find(position) or get(position)
                if child is not None and (i < GROUP_LEVELS - 1 or type(child) is LeafNode):
                    below.append((2 * offset, child))
            if current.right != EMPTY:
                position = (depth, shifted | (2 * offset + 1))
                child = find(position) or get(position)
                if child is not None and (i < GROUP_LEVELS - 1 or type(child) is LeafNode):
                    below.append((2 * offset + 1, child))
        if not below:
            break
        level = below
    return parts


class GroupSlots:
    """Each node group's stored bytes kept slot by slot between versions, so that a version's
    rows (:func:`group_rows`) are encoded from the slots its nodes change rather than by
    walking every group it touches: a group's 31 slots are ``slot ‖ node`` parts, empty
    where no node is, and the group's row is their concatenation.

    One per map that moves forward version by version (the process's current map, ``ledger
    verify``'s recomputed one). :meth:`encode` returns the groups a version rewrites and
    their new slots without keeping them; :meth:`merge` keeps them once that version is the
    map's; :meth:`forget` drops groups changed by versions encoded elsewhere (rows another
    process committed). A group not kept is walked once from the map, as
    :func:`group_rows` does. Memory: some 100 bytes a node.
    """

    def __init__(self) -> None:
        """Nothing kept yet."""
        self._slots: dict[tuple[int, int], list[bytes]] = {}

    def encode(self, written: Mapping[tuple[int, int], Node],
               get: Callable[[tuple[int, int]], Node | None],
               ) -> tuple[dict[tuple[int, int], bytes], dict[tuple[int, int], list[bytes]]]:
        """The stored bytes of every group holding one of the ``written`` nodes (equal to
        :func:`group_rows`'s), and those groups' new slots, by the group's top position.

        ``get`` reads the map by position, at the version before ``written`` or at it (a
        group not kept is walked from it, then ``written`` is laid over it: the same either
        way)."""
        kept = self._slots
        changed: dict[tuple[int, int], list[bytes]] = {}

        def slots_of(top: tuple[int, int]) -> list[bytes]:
            slots = changed.get(top)
            if slots is None:
                old = kept.get(top)
                slots = changed[top] = (list(old) if old is not None
                                        else _group_slots(top[0], top[1], _NOTHING, get))
            return slots

        for (depth, prefix), node in written.items():
            if type(node) is LeafNode:
                above = depth - 1 if depth else 0  # group_of, inlined
                level = depth - (above - above % GROUP_LEVELS)
                slot = (1 << level) - 1 + (prefix & ((1 << level) - 1))
                part = LEAF_TAGS[slot] + node.key + node.head.value()
            else:
                assert isinstance(node, InternalNode)
                level = depth % GROUP_LEVELS
                slot = (1 << level) - 1 + (prefix & ((1 << level) - 1))
                part = INTERNAL_TAGS[slot] + node.left + node.right
                if level == 0 and depth:
                    # A group's top: its position sits on the fifth level of the group above,
                    # which keeps only leaves there (one may have been here before).
                    slots_of((depth - GROUP_LEVELS, prefix >> GROUP_LEVELS))[
                        _FIFTH_LEVEL + (prefix & _FIFTH_LEVEL)] = b""
            slots_of((depth - level, prefix >> level))[slot] = part
        return {top: b"".join(changed[top]) for top in sorted(changed)}, changed

    def merge(self, slots: Mapping[tuple[int, int], list[bytes]]) -> None:
        """Keep the slots :meth:`encode` gave for a version that is now the map's."""
        self._slots.update(slots)

    def forget(self, tops: Iterable[tuple[int, int]]) -> None:
        """Drop the groups at ``tops`` (rewritten by versions this object did not encode)."""
        for top in tops:
            self._slots.pop(top, None)


def _nothing(_position: tuple[int, int]) -> Node | None:
    return None


_NOTHING: Final = _nothing


def encode_group(nodes: Iterable[tuple[int, Node]]) -> bytes:
    """A group's stored bytes: for each node in slot order, ``slot (1 byte) ‖`` its
    :func:`encode_node` bytes (the tag byte tells an internal node's 65 from a leaf's 81)."""
    parts: list[bytes] = []
    for slot, node in nodes:
        if isinstance(node, InternalNode):
            parts += (INTERNAL_TAGS[slot], node.left, node.right)
        else:
            parts += (LEAF_TAGS[slot], node.key, node.head.value())
    return b"".join(parts)


def decode_group(profile: Profile, top: int, top_prefix: int, data: bytes,
                 ) -> dict[tuple[int, int], Node]:
    """:func:`encode_group` reversed: the group's nodes by position, hashes computed.

    Raises ValueError unless ``data`` is a well-formed group (slots increasing, each node
    well-formed, only leaves on the fifth level, no node beyond the key's 256 bits)."""
    nodes: dict[tuple[int, int], Node] = {}
    at, last, size = 0, -1, len(data)
    while at < size:
        slot = data[at]
        if slot >= GROUP_SLOTS or slot <= last or at + 1 >= size:
            raise ValueError(f"a stored heads-map group with a bad slot at byte {at}")
        width = _INTERNAL_SIZE if data[at + 1] == _INTERNAL else _LEAF_SIZE
        node = decode_node(profile, data[at + 1:at + 1 + width])
        level = (slot + 1).bit_length() - 1
        if top + level > KEY_BITS or (level == GROUP_LEVELS and isinstance(node, InternalNode)):
            raise ValueError("a stored heads-map group holds a node out of its place")
        nodes[top + level, (top_prefix << level) | (slot + 1 - (1 << level))] = node
        at, last = at + 1 + width, slot
    if not nodes:
        raise ValueError("an empty stored heads-map group")
    return nodes


def decode_group_path(profile: Profile, top: int, data: bytes, key: int,
                      ) -> dict[int, Node]:
    """The nodes of a stored group that lie on the path of ``key`` (a 256-bit key as an
    integer), by depth: what a proof needs of the group, without decoding the rest.

    Raises ValueError if ``data`` is not a well-formed group along the way."""
    wanted = {(1 << i) - 1 + ((key >> (KEY_BITS - top - i)) & ((1 << i) - 1)): i
              for i in range(min(GROUP_LEVELS + 1, KEY_BITS - top + 1))}
    nodes: dict[int, Node] = {}
    at, last, size = 0, -1, len(data)
    while at < size:
        slot = data[at]
        if slot >= GROUP_SLOTS or slot <= last or at + 1 >= size:
            raise ValueError(f"a stored heads-map group with a bad slot at byte {at}")
        width = _INTERNAL_SIZE if data[at + 1] == _INTERNAL else _LEAF_SIZE
        if slot in wanted:
            nodes[top + wanted[slot]] = decode_node(profile, data[at + 1:at + 1 + width])
        at, last = at + 1 + width, slot
    return nodes


def group_rows(written: Mapping[tuple[int, int], Node],
               get: Callable[[tuple[int, int]], Node | None]) -> dict[tuple[int, int], bytes]:
    """The stored bytes of every group holding one of the ``written`` nodes, read through
    ``get`` (the map at the version being written, by position), keyed by the group's top
    position."""
    tops = set()
    for (depth, prefix), node in written.items():
        above = depth - 1 if depth and type(node) is LeafNode else depth  # group_of, inlined
        top = above - above % GROUP_LEVELS
        tops.add((top, prefix >> (depth - top)))
    return {top: _group_bytes(top[0], top[1], written, get) for top in sorted(tops)}


# --- node stores -------------------------------------------------------------------------------


class LatestNodeStore:
    """A :class:`~ledger.log.headmap.NodeStore` keeping only the newest node of each position.

    An append only ever reads the map at its latest version, so a process keeps this, not
    every version (:class:`~ledger.log.headmap.MemoryNodeStore`); older versions are read from
    the database. Reading a version before the latest raises ValueError, since the answer
    could be a newer node.
    """

    def __init__(self) -> None:
        """Start empty, at version 0."""
        self._nodes: dict[tuple[int, int], Node] = {}
        self._version = 0

    @property
    def version(self) -> int:
        """The log size this map is at."""
        return self._version

    @property
    def nodes(self) -> Mapping[tuple[int, int], Node]:
        """Every node of the map, by position (read-only use)."""
        return self._nodes

    def __len__(self) -> int:
        """The number of nodes."""
        return len(self._nodes)

    def get(self, depth: int, prefix: int, version: int) -> Node | None:
        """The node at ``(depth, prefix)``; ``version`` must be the latest (or beyond)."""
        if version < self._version:
            raise ValueError(f"only version {self._version} of the map is kept here, not "
                             f"{version}")
        return self._nodes.get((depth, prefix))

    def put(self, version: int, nodes: Mapping[tuple[int, int], Node]) -> None:
        """Make ``version`` current with ``nodes`` replacing those at their positions.

        A version with no nodes only moves the map to a larger log size (a batch of streams
        the map leaves out); one with nodes must be newer than the current one.
        """
        if version < self._version or (nodes and version == self._version):
            raise ValueError(f"expected a version above {self._version}, got {version}")
        self._nodes.update(nodes)
        self._version = version


class OverlayNodeStore:
    """One new version buffered over a base store, which it leaves untouched.

    Reads at the base's version go to the base; after :meth:`put`, reads at the new version
    see the buffered nodes first. The buffer is :attr:`written`; nothing reaches the base
    until the owner merges it (:meth:`CurrentHeads.commit`).
    """

    def __init__(self, base: LatestNodeStore) -> None:
        """An empty overlay on ``base`` at its current version."""
        self._base = base
        self._base_nodes = base.nodes  # read directly: a batch reads every node on its paths
        self.base_version = base.version
        self._version = base.version
        self.written: dict[tuple[int, int], Node] = {}

    @property
    def version(self) -> int:
        """The buffered version once :meth:`put`, else the base's."""
        return self._version

    def get(self, depth: int, prefix: int, version: int) -> Node | None:
        """The buffered node at a version after the base's, else the base's node."""
        if version > self.base_version:
            node = self.written.get((depth, prefix))
            if node is not None:
                return node
        elif version < self.base_version:
            return self._base.get(depth, prefix, version)  # raises: an older version
        return self._base_nodes.get((depth, prefix))

    def put(self, version: int, nodes: Mapping[tuple[int, int], Node]) -> None:
        """Buffer the one version this overlay holds."""
        if self._version != self.base_version:
            raise ValueError("an overlay holds one version")
        if version < self.base_version or (nodes and version == self.base_version):
            raise ValueError(f"expected a version above {self.base_version}, got {version}")
        self.written = dict(nodes)
        self._version = version


# --- the current map ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadsUpdate:
    """One batch's new map version: computed over the current map at ``base``, not yet in it.

    ``nodes`` are the positions the batch rewrites (written as rows of version ``version`` in
    the batch's transaction); ``root`` is the new root, signed into the checkpoint.
    """

    base: int
    version: int
    root: bytes
    nodes: Mapping[tuple[int, int], Node]
    groups: Mapping[tuple[int, int], bytes]
    """The stored rows: every group holding one of ``nodes``, whole, by its top position."""
    slots: Mapping[tuple[int, int], list[bytes]] = field(default_factory=dict, repr=False)
    """Those groups slot by slot (:class:`GroupSlots`), kept by the map once committed."""

    def columns(self) -> tuple[list[int], list[bytes], list[bytes]]:
        """The rows to insert, column by column: depths, prefixes and groups (stored form)."""
        items = sorted(self.groups.items())
        return ([depth for (depth, _), _ in items],
                [encode_prefix(depth, prefix) for (depth, prefix), _ in items],
                [group for _, group in items])

    def packed(self) -> list[bytes]:
        """The rows to insert as one ``bytea`` each: depth (2 bytes, big-endian) ‖ prefix ‖
        group, the prefix's length following from the depth (PostgreSQL's ``ledger_write``
        cuts them: one array parameter rather than three)."""
        return [depth.to_bytes(2, "big") + encode_prefix(depth, prefix) + group
                for (depth, prefix), group in sorted(self.groups.items())]

    def rows(self) -> list[HeadRow]:
        """The rows to insert, as :data:`HeadRow` tuples."""
        depths, prefixes, nodes = self.columns()
        return [(self.version, depth, prefix, node)
                for depth, prefix, node in zip(depths, prefixes, nodes, strict=True)]


class CurrentHeads:
    """A process's current stream heads map, never ahead of what the database committed.

    One per recorder, shared by its threads under a lock. The map is at :attr:`version`, a log
    size; every change to it is either committed elsewhere already (:meth:`catch_up`, under the
    append's lock) or a batch's update that this process has just committed (:meth:`commit`).
    """

    def __init__(self, profile: Profile) -> None:
        """An empty map at version 0 under ``profile``'s hash."""
        self.profile = profile
        self._store = LatestNodeStore()
        self._map = HeadMap(profile, self._store)
        self._lock = threading.Lock()
        self._keys: dict[UUID, bytes] = {}  # each stream's map key, hashed once per process
        self._groups = GroupSlots()  # the stored groups slot by slot, as of the map's version

    @classmethod
    def build(cls, profile: Profile, heads: Mapping[UUID, StreamHead],
              version: int) -> CurrentHeads:
        """The map holding exactly ``heads``, at log size ``version``."""
        current = cls(profile)
        if heads:
            current._map.apply(heads, version=version)
        else:
            current._store.put(version, {})
        return current

    @property
    def version(self) -> int:
        """The log size the map is at."""
        return self._store.version

    def root(self) -> bytes:
        """The map's current root."""
        with self._lock:
            return self._map.root()

    def snapshot(self) -> HeadsUpdate:
        """The whole map as one version (every node): what a map's first version stores."""
        with self._lock:
            nodes = dict(self._store.nodes)
            return HeadsUpdate(0, self._store.version, self._map.root(), nodes,
                               group_rows(nodes, nodes.get))

    def catch_up(self, size: int, rows: Sequence[HeadRow]) -> None:
        """Bring the map to log size ``size`` with the node versions committed after it.

        ``rows`` are every stored node version above the map's version, read under the
        append's lock and ordered by version; those this process already has (merged by
        another thread meanwhile) are skipped. A log smaller than the map means the database
        went back (a restore): nothing this process holds can be trusted then.
        """
        with self._lock:
            if size < self._store.version:
                raise IntegrityFailedError(
                    f"the log has {size} leaves but this process's stream heads map is at "
                    f"{self._store.version}: the database went back (restored?); restart the "
                    "process")
            batch: dict[tuple[int, int], Node] = {}
            current = None
            for version, depth, prefix, data in rows:
                if version <= self._store.version:
                    continue
                if version != current:
                    if current is not None:
                        self._store.put(current, batch)
                    current, batch = version, {}
                top = decode_prefix(depth, prefix)
                self._groups.forget(((depth, top),))  # rewritten by another process
                batch.update(decode_group(self.profile, depth, top, data))
            if current is not None:
                self._store.put(current, batch)
            if size > self._store.version:
                self._store.put(size, {})  # the last batches moved no stream of the map

    def plan(self, base: int, changes: Mapping[UUID, StreamHead], version: int,
             ) -> HeadsUpdate | None:
        """The map after a batch that takes the log from size ``base`` to ``version`` and
        moves ``changes``, computed in an overlay: the current map is not changed.

        None if the map is not at ``base`` (a prediction made on a stale map). Raises
        ValueError if a head does not move forward.
        """
        with self._lock:
            if self._store.version != base:
                return None
            overlay = OverlayNodeStore(self._store)
            heads = HeadMap(self.profile, overlay)
            if changes:
                keys = self._keys
                named: dict[bytes, tuple[UUID | str, StreamHead]] = {}
                for stream, head in changes.items():
                    key = keys.get(stream)
                    if key is None:
                        key = keys[stream] = head_key(self.profile, stream)
                    named[key] = (stream, head)
                if len(named) != len(changes):  # two ids with one key: a hash collision
                    raise ValueError("two streams of this batch have the same map key")
                # The overlay's reads during the walk are all at its base: the map's dict.
                root = heads._apply_keyed(named, version, self._store.nodes.get)
            else:
                overlay.put(version, {})
                root = heads.root()
            written = overlay.written  # the map at the new version: these, then the rest
            groups, slots = self._groups.encode(written, self._store.nodes.get)
            return HeadsUpdate(base, version, root, written, groups, slots)

    def prove_at(self, stream: UUID, version: int,
                 ) -> tuple[StreamHead | None, HeadProof] | None:
        """``stream``'s head and proof from the map in memory, if the map is at ``version``
        (else None: only the current version is kept, and older ones are read from the
        database). Under the lock, so that no merge changes the map while the path is read."""
        with self._lock:
            if self._store.version != version:
                return None
            key = self._keys.get(stream)
            if key is None:
                key = head_key(self.profile, stream)
            return self._map._prove_key(key, version)

    def commit(self, update: HeadsUpdate) -> bool:
        """Merge a batch's update once its transaction has committed; False (nothing done) if
        the map moved past its base meanwhile (another thread caught up over it)."""
        with self._lock:
            if self._store.version != update.base:
                return False
            self._store.put(update.version, update.nodes)
            self._groups.merge(update.slots)
            return True
