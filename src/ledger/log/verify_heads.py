"""The stream heads map's half of ``ledger verify``: the map recomputed from the leaves, compared
with every checkpoint's ``heads`` line and every stored node version.

:class:`RecomputedHeads` takes the leaves in log order, as the pass reads them, and applies each
checkpoint's run of leaves as one version, as the writer did: every checkpoint size is a version
(docs/evidence-format.md, Stream heads map, What the map holds), so the nodes it rewrites are
exactly the nodes the writer rewrote for that version, and the node groups holding them are
the rows it stored. :meth:`RecomputedHeads.compare` then checks a version's stored rows and its
checkpoint's ``heads`` root, naming the streams whose heads differ. Before the map's first
version (a log upgraded by ``ledger init``) the leaves only fold into the streams' heads; the
first version is then the whole map, as the upgrade stored it.

The map is replayed by :class:`ReplayedMap`, written for this pass alone and apart from the
writer's :class:`~ledger.log.headmap.HeadMap`: verify applies every version of the log, some
eight hashes an entry, so the per-node work is kept to a few dictionary operations (nodes by
their position in heap order, hashed level by level, each group's stored bytes kept slot by
slot). Being a second implementation is also the point of a check: the two agree on every root
and every stored row (tests/ledger/log/test_verify_heads.py).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol
from uuid import UUID

from ledger.crypto.suites import Profile
from ledger.errors import HeadProofError
from ledger.log import native
from ledger.log.headmap import EMPTY, KEY_BITS, LeafNode, Node, StreamHead, head_key
from ledger.log.heads import (
    GROUP_LEVELS,
    GROUP_SLOTS,
    INTERNAL_TAGS,
    LEAF_TAGS,
    GroupKey,
    decode_group,
    decode_prefix,
    encode_prefix,
    group_of,
    map_stream,
)
from ledger.log.writer import LogRow

if TYPE_CHECKING:
    from ledger.log._replay import Replay

NATIVE_REPLAY: Final = native.REPLAY is not None
"""Whether :class:`ReplayedMap` replays the map in C under SHA-256 (:mod:`ledger.log.native`)."""

_LISTED = 10
"""Differing nodes described per version; the rest are counted."""

_VALUE: Final = struct.Struct(">Q32sQ")
"""A head's 48-byte value: seq, entry hash, leaf index (StreamHead.value)."""
_HASH_SIZE: Final = 32
_PENDING: Final = b""
"""The hash of an internal node made by this version and not hashed yet (always hashed before
it is read: it lies on the path of a leaf the version moves)."""

class _Hash(Protocol):
    def digest(self) -> bytes: ...


class _Fed(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Digested:
    """A computed digest behind hashlib's ``new(data).digest()`` shape (profiles other than
    SHA-256, whose hash is a function)."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def digest(self) -> bytes:
        return self._value


class _Gathered:
    """hashlib's ``update``/``digest`` shape over a suite's one-shot hash (profiles other than
    SHA-256): the parts are joined and hashed once, at ``digest``."""

    __slots__ = ("_digest", "_parts")

    def __init__(self, digest: Callable[[bytes], bytes], first: bytes) -> None:
        self._digest, self._parts = digest, [first]

    def update(self, data: bytes, /) -> None:
        self._parts.append(data)

    def digest(self) -> bytes:
        return self._digest(b"".join(self._parts))


def _hasher(profile: Profile) -> Callable[[bytes], _Hash]:
    """The profile's hash as a constructor whose result has ``digest()``: hashlib's own for
    SHA-256 (no Python frame per hash), a wrapper around the suite otherwise."""
    if profile.hash.name == "sha256":
        return hashlib.sha256
    suite_digest = profile.hash.digest
    return lambda data: _Digested(suite_digest(data))


def _fed(profile: Profile, prefix: bytes) -> Callable[[], _Fed]:
    """A maker of hashes already fed ``prefix`` (a node's domain tag). For SHA-256 it copies a
    hashlib object fed once: a copy costs less than a new hash's set-up in OpenSSL, and the
    tag is not prepended to every node's bytes (together 15 % of a node's hashing, measured)."""
    if profile.hash.name == "sha256":
        return hashlib.sha256(prefix).copy
    suite_digest = profile.hash.digest
    return lambda: _Gathered(suite_digest, prefix)


class ReplayedMap:
    """The stream heads map moved forward version by version, for verification only.

    A node is addressed by its heap number ``2^depth + prefix`` (the root is 1, the children
    of ``i`` are ``2i`` and ``2i + 1``), so a parent is ``i >> 1`` and the nodes of one depth
    can be hashed together after those below them. Only the current version is kept: each
    position's hash, which leaf is where, and every node group's 31 stored slots (``slot ‖
    node`` or empty, as :mod:`ledger.log.heads` encodes them), so that a version's rows are the
    joins of the groups it touched. Where a node's slot is (its group's slots, the slot, the
    slot's tag) is worked out once per position, and once per leaf placement, not at every
    version that rewrites it.

    Under SHA-256, where it was built, the same map is kept and moved forward in C
    (``_replay.c``: the nodes in flat arrays), a third of these loops' CPU in a verify run;
    the Python state above is then empty. A leaf deeper than C's 120 levels (two keys sharing
    120 leading bits) hands the map over to the Python loops for the rest of the run.
    """

    def __init__(self, profile: Profile, *, in_c: bool = True) -> None:
        """An empty map under ``profile``'s hash; kept in C if ``in_c``, the C replay is built
        and enabled, and the profile's hash is SHA-256 (in Python otherwise: the same
        results)."""
        self._native = (native.REPLAY() if native.REPLAY is not None and in_c
                        and profile.hash.name == "sha256" else None)
        self._new = _hasher(profile)
        self._new_leaf = _fed(profile, b"\x11")
        self._new_inner = _fed(profile, b"\x12")
        self._hashes: dict[int, bytes] = {}
        self._leaf_of: dict[bytes, _LeafPlace] = {}  # key -> where its leaf is
        self._key_at: dict[int, bytes] = {}  # a leaf's position -> its key
        self._inner: dict[int, _Slot] = {}  # an internal node's position -> its slot
        self._slots: dict[int, list[bytes]] = {}  # a group's top position -> its slots
        self._tops: dict[int, tuple[GroupKey, list[bytes]]] = {}  # a group's row key, slots

    def root(self) -> bytes:
        """The current root (:data:`~ledger.log.headmap.EMPTY` for the empty map)."""
        if self._native is not None:
            return self._native.root()
        return self._hashes.get(1, EMPTY)

    def apply(self, changes: Sequence[tuple[bytes, bytes]]
              ) -> tuple[bytes, dict[GroupKey, bytes]]:
        """Set each ``(key, value)`` (distinct keys, 48-byte values); return the new root and
        the stored bytes of every node group holding a node that changed, by position."""
        if self._native is not None:
            done = self._native.apply(changes if type(changes) is list else list(changes))
            if done is not None:
                return done
            self._take_over(self._native)  # a leaf deeper than C's positions: Python from here
        levels = self._set_leaves(changes)
        if not levels:  # nothing changed, or one stream and its leaf is the root
            return self.root(), (self._rows([1]) if changes else {})
        return self._hash_levels(levels)

    def apply_packed(self, changes: Sequence[tuple[bytes, bytes]]) -> tuple[bytes, bytes, int]:
        """:meth:`apply`, with the changed groups packed as :func:`pack_groups` packs them
        (in C with no dict between; in Python from :meth:`apply`'s), and their number."""
        if self._native is not None:
            done = self._native.apply_packed(changes if type(changes) is list
                                             else list(changes))
            if done is not None:
                return done
            self._take_over(self._native)
        root, rows = self.apply(changes)
        return root, pack_groups(rows), len(rows)

    def _take_over(self, compiled: Replay) -> None:
        """Go on in Python from the C replay's map as it stands (nothing of it is kept here
        while C runs): every node placed and its slot filled as the Python loops would have."""
        leaves, inner = compiled.export()
        self._native = None
        for i, digest, key, value in leaves:
            _, _, group, slot = self._place_leaf(key, i)
            self._hashes[i] = digest
            group[slot] = LEAF_TAGS[slot] + key + value
        for i, digest, left, right in inner:
            group, slot, tag = self._inner_slot(i)
            self._hashes[i] = digest
            group[slot] = tag + left + right

    def _set_leaves(self, changes: Sequence[tuple[bytes, bytes]]) -> dict[int, set[int]]:
        """Hash and place the changed leaves; return their parents by depth."""
        new, new_leaf, hashes = self._new, self._new_leaf, self._hashes
        leaf_of, tags = self._leaf_of, LEAF_TAGS
        levels: dict[int, set[int]] = {}
        for key, value in changes:
            try:
                i, above, group, slot = leaf_of[key]
            except KeyError:  # a new stream
                i, above, group, slot = self._insert(key, levels)
            leaf = new_leaf()  # H(0x11 ‖ key ‖ H(value))
            leaf.update(key)
            leaf.update(new(value).digest())
            hashes[i] = leaf.digest()
            group[slot] = tags[slot] + key + value
            if above >= 0:
                parents = levels.get(above)
                if parents is None:
                    levels[above] = {i >> 1}
                else:
                    parents.add(i >> 1)
        return levels

    def _hash_levels(self, levels: dict[int, set[int]]) -> tuple[bytes, dict[GroupKey, bytes]]:
        """Hash the internal nodes of ``levels`` (depth -> positions) and their ancestors, the
        deepest first, so that every node is hashed after both its children; return the root
        and the rows of the groups they are in.

        A group's top is an internal node at a depth that is a multiple of four, and every
        group a version changes has its top among the nodes hashed here (the top is above
        whatever changed in the group), so those are the groups to store.
        """
        new_inner, hashes, inner = self._new_inner, self._hashes, self._inner
        get, empty = hashes.get, EMPTY
        tops: list[int] = []
        depth = max(levels)
        nodes = levels[depth]
        while True:
            parents = levels.get(depth - 1) if depth else None
            if parents is None:
                parents = set()
            for i in nodes:
                pair = get(i + i, empty) + get(i + i + 1, empty)
                node = new_inner()  # H(0x12 ‖ left ‖ right)
                node.update(pair)
                hashes[i] = node.digest()
                try:
                    group, slot, tag = inner[i]
                except KeyError:  # the position's first time as an internal node
                    group, slot, tag = self._inner_slot(i)
                group[slot] = tag + pair
                parents.add(i >> 1)
            if depth % GROUP_LEVELS == 0:
                tops.extend(nodes)
            if depth == 0:
                break
            depth -= 1
            nodes = parents
        return hashes[1], self._rows(tops)

    def _rows(self, tops: Iterable[int]) -> dict[GroupKey, bytes]:
        """The stored bytes of the groups at ``tops``, by their stored position."""
        known = self._tops
        rows: dict[GroupKey, bytes] = {}
        for top in tops:
            found = known.get(top)
            if found is None:
                depth = top.bit_length() - 1
                found = known[top] = ((depth, encode_prefix(depth, top ^ (1 << depth))),
                                      self._group(top))
            rows[found[0]] = b"".join(found[1])
        return rows

    def _group(self, top: int) -> list[bytes]:
        """The slots of the group at ``top``, made empty if it has none yet."""
        group = self._slots.get(top)
        if group is None:
            group = self._slots[top] = [b""] * GROUP_SLOTS
        return group

    def _inner_slot(self, i: int) -> _Slot:
        """Where the internal node at position ``i`` is stored (once per position: a position
        that becomes internal stays internal, and its group follows from its depth)."""
        top, slot = _slot_of(i, leaf=False)
        place = self._inner[i] = (self._group(top), slot, INTERNAL_TAGS[slot])
        return place

    def _place_leaf(self, key: bytes, i: int) -> _LeafPlace:
        """Put ``key``'s leaf at position ``i``; return where it is stored."""
        top, slot = _slot_of(i, leaf=True)
        place = self._leaf_of[key] = (i, i.bit_length() - 2, self._group(top), slot)
        self._key_at[i] = key
        return place

    def _insert(self, key: bytes, levels: dict[int, set[int]]) -> _LeafPlace:
        """Place a new key's leaf (its hash and slot are set by the caller); return where.

        Walking down along the key's bits ends in an empty position, where the leaf goes, or
        in another stream's leaf: both then move down to the depth below the first bit their
        keys differ in, and the positions between become internal nodes (the shortcut rule).
        """
        k = int.from_bytes(key, "big")
        hashes, key_at = self._hashes, self._key_at
        i, depth = 1, 0
        while True:
            other = key_at.get(i)
            if other is not None:
                o = int.from_bytes(other, "big")
                below = KEY_BITS + 1 - (k ^ o).bit_length()  # both leaves' new depth
                _, _, group, slot = self._leaf_of[other]
                body = group[slot][len(LEAF_TAGS[slot]):]  # its key and value, as stored
                group[slot] = b""  # (a group's fifth level keeps only leaves)
                del key_at[i]
                moved = (1 << below) | (o >> (KEY_BITS - below))
                _, _, group, slot = self._place_leaf(other, moved)
                hashes[moved] = hashes.pop(i)  # a leaf's hash does not depend on its place
                group[slot] = LEAF_TAGS[slot] + body
                levels.setdefault(below - 1, set()).add(moved >> 1)
                for up in range(1, below - depth + 1):
                    hashes[moved >> up] = _PENDING
                i = (1 << below) | (k >> (KEY_BITS - below))
                break
            if i not in hashes:
                break
            depth += 1
            i = (i << 1) | ((k >> (KEY_BITS - depth)) & 1)
        return self._place_leaf(key, i)


_Slot = tuple[list[bytes], int, bytes]
"""Where a node is stored: its group's slots, its slot, and that slot's tag."""
_LeafPlace = tuple[int, int, list[bytes], int]
"""Where a leaf is: its position, its parent's depth (-1 at the root), its group's slots and
its slot."""


def _slot_of(i: int, *, leaf: bool) -> tuple[int, int]:
    """The group (its top's position) and slot of the node at heap position ``i``, as
    :func:`ledger.log.heads.group_of` places it (a leaf right below a group's fourth level is
    kept in that group). Worked out once per placement, so the layout has one definition."""
    depth = i.bit_length() - 1
    top, _ = group_of(depth, i ^ (1 << depth), leaf=leaf)
    level = depth - top
    return i >> level, (1 << level) - 1 + (i & ((1 << level) - 1))


_PACKED_HEAD: Final = struct.Struct(">hI")
_PACKED_LENGTH: Final = struct.Struct(">I")


def pack_groups(groups: Mapping[GroupKey, bytes]) -> bytes:
    """Node groups as one value, for comparing a version's rows whole: for each group by
    ``(depth, prefix)``, depth (2 bytes) ‖ the prefix's length (4) ‖ prefix ‖ the row's
    length (4) ‖ row, big-endian. Nothing of it is stored: the database's statement for
    ``LogSnapshot.iter_head_packed`` writes the same bytes from its rows."""
    return b"".join(_PACKED_HEAD.pack(depth, len(prefix)) + prefix
                    + _PACKED_LENGTH.pack(len(row)) + row
                    for (depth, prefix), row in sorted(groups.items()))


def unpack_groups(packed: bytes) -> dict[GroupKey, bytes]:
    """The groups :func:`pack_groups` packed (raises ValueError on bytes it did not make)."""
    groups: dict[GroupKey, bytes] = {}
    at = 0
    try:
        while at < len(packed):
            depth, size = _PACKED_HEAD.unpack_from(packed, at)
            at += _PACKED_HEAD.size
            prefix = packed[at:at + size]
            at += size
            (length,) = _PACKED_LENGTH.unpack_from(packed, at)
            at += _PACKED_LENGTH.size
            groups[depth, prefix] = packed[at:at + length]
            at += length
    except struct.error as exc:
        raise ValueError(f"packed node groups cut short at byte {at}") from exc
    if at != len(packed):
        raise ValueError("packed node groups cut short")
    return groups


@dataclass(frozen=True)
class HeadsVersion:
    """One version of the recomputed map: its root and the node groups it rewrote (the rows
    the writer stores), packed whole (:func:`pack_groups`), and how many there are."""

    version: int
    root: bytes
    packed: bytes
    count: int

    @property
    def groups(self) -> dict[GroupKey, bytes]:
        """The node groups by their stored position (unpacked when asked: to name what
        differs)."""
        return unpack_groups(self.packed)


@dataclass(frozen=True)
class HeadsProblem:
    """A failed check of the heads map, at a log size, naming the streams it concerns."""

    message: str
    size: int
    streams: tuple[str, ...] = ()


@dataclass
class RecomputedHeads:
    """The stream heads map recomputed from the leaves, one version per checkpoint size.

    ``start`` is the map's first version as the database records it (None: no map, and
    nothing is computed); ``sizes`` are the stored checkpoints' sizes, increasing.
    """

    profile: Profile
    start: int | None
    sizes: Sequence[int]
    done: list[HeadsVersion] = field(default_factory=list)
    """Versions computed and not yet taken (:meth:`take`)."""
    problems: list[HeadsProblem] = field(default_factory=list)
    """Leaves that cannot be their stream's next head (the chain checks report them too)."""
    _cuts: list[int] = field(default_factory=list)
    _next: int = 0
    _map: ReplayedMap = field(init=False)
    _heads: dict[int, tuple[UUID, bytes, int, int]] = field(default_factory=dict)
    """Each stream, its map key (hashed once, not at every version that moves it) and its head
    in the map as (seq, leaf index), by the stream's UUID as an integer: a ``UUID``'s own hash
    and equality are Python methods, an int's are not, and this is looked up for every leaf."""
    _pending: dict[int, tuple[UUID, int, bytes, int]] = field(default_factory=dict)
    """The leaves since the last version: each stream's newest (stream, seq, hash, index)."""
    _stream_of: dict[bytes, UUID] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """The versions: the start and every checkpoint size after it."""
        if self.start is not None:
            self._cuts = sorted({self.start, *(s for s in self.sizes if s > self.start)})
        self._map = ReplayedMap(self.profile)

    @property
    def active(self) -> bool:
        """Whether there is a map to recompute."""
        return self.start is not None

    def extend(self, leaves: Iterable[LogRow]) -> None:
        """Take the next leaves in log order; apply each version as a leaf passes its size."""
        if self.start is None:
            return
        cuts, pending = self._cuts, self._pending
        cut = cuts[self._next] if self._next < len(cuts) else -1  # the next version, if any
        for leaf in leaves:
            index, oid, seq, entry_hash = leaf[0], leaf[1], leaf[2], leaf[3]
            if index >= cut >= 0:
                while self._next < len(cuts) and index >= cuts[self._next]:
                    self._cut(cuts[self._next])
                    self._next += 1
                cut = cuts[self._next] if self._next < len(cuts) else -1
            # map_stream inlined for a UUID (in the map as it is); text ids take its rules
            stream = oid if type(oid) is UUID else map_stream(oid)
            if stream is not None:
                pending[stream.int] = (stream, seq, entry_hash, index)

    def finish(self, size: int) -> None:
        """The log is read up to ``size``: apply the versions not beyond it."""
        cuts = self._cuts
        while self._next < len(cuts) and cuts[self._next] <= size:
            self._cut(cuts[self._next])
            self._next += 1

    def take(self) -> list[HeadsVersion]:
        """The versions computed since the last call."""
        done, self.done = self.done, []
        return done

    def _cut(self, version: int) -> None:
        """Apply the leaves since the last version as version ``version``."""
        changes: list[tuple[bytes, bytes]] = []
        heads, pack_value = self._heads, _VALUE.pack
        for n, (stream, seq, digest, index) in self._pending.items():
            old = heads.get(n)
            if old is not None and (seq <= old[2] or index <= old[3]):
                self.problems.append(HeadsProblem(
                    f"stream {stream}'s entry seq {seq} at leaf {index} does not follow its head,"
                    f" seq {old[2]} at leaf {old[3]}: left out of the recomputed map",
                    version, (str(stream),)))
                continue
            try:
                if (type(seq) is not int or seq < 1 or type(index) is not int
                        or type(digest) is not bytes or len(digest) != _HASH_SIZE):
                    raise struct.error
                value = pack_value(seq, digest, index)  # u64 ranges and int types checked
            except (struct.error, TypeError):
                try:
                    StreamHead(seq, digest, index)  # for its message
                except HeadProofError as exc:
                    self.problems.append(HeadsProblem(
                        f"stream {stream}'s leaf {index} cannot be a head: {exc}", version,
                        (str(stream),)))
                    continue
                raise  # StreamHead accepts what the test refused: a bug, not a bad leaf
            key = head_key(self.profile, stream) if old is None else old[1]
            changes.append((key, value))
            heads[n] = (stream, key, seq, index)
        self._pending.clear()
        self.done.append(HeadsVersion(version, *self._map.apply_packed(changes)))

    # --- comparing with what is stored -------------------------------------------------------

    def compare(self, computed: HeadsVersion, stored: Mapping[GroupKey, bytes] | None,
                signed: bytes | None) -> list[HeadsProblem]:
        """Check a version's stored rows (by their position) against the node groups it
        rewrote (None: rows in a layout not compared), and the ``heads`` root ``signed`` into
        its checkpoint (None: the checkpoint has no line, or there is none).

        A differing root names the streams whose stored leaves differ at this version, or says
        that the stored map agrees with the entries (a checkpoint signed over a wrong line).
        """
        version = computed.version
        rows: Mapping[GroupKey, bytes] = stored or {}
        groups = computed.groups if stored is not None else {}
        differing: list[str] = []
        streams: list[str] = []
        if rows == groups:  # the usual case: one comparison of two dicts, in C
            groups = rows = {}
        for where, group in groups.items():
            found = rows.get(where)
            if found == group:
                continue
            depth = where[0]
            prefix = decode_prefix(depth, where[1])
            named = self._streams_of(depth, prefix, group, found)
            streams.extend(s for s in named if s not in streams)
            what = "missing" if found is None else "differs from the one recomputed"
            bits = format(prefix, f"0{depth}b") if depth else "-"
            differing.append(f"node group at depth {depth}, prefix {bits}, {what}"
                             f"{_naming(named)}")
        for depth, prefix_bytes in sorted(rows.keys() - groups.keys()):
            try:
                named = self._streams_of(depth, decode_prefix(depth, prefix_bytes), None,
                                         rows[depth, prefix_bytes])
            except ValueError:
                named = []
            streams.extend(s for s in named if s not in streams)
            differing.append(f"node group at depth {depth} was not rewritten by this version's "
                             f"entries{_naming(named)}")
        problems: list[HeadsProblem] = []
        if differing:
            listed = "; ".join(differing[:_LISTED])
            more = f"; and {len(differing) - _LISTED} more" if len(differing) > _LISTED else ""
            problems.append(HeadsProblem(
                f"the stored heads map at version {version} differs from the map recomputed "
                f"from the entries: {listed}{more}", version, tuple(streams)))
        if signed is not None and signed != computed.root:
            why = (f"; the stored map differs there too{_naming(streams)}" if differing else
                   "; the stored map agrees with the entries: the checkpoint was signed over a"
                   " wrong heads line")
            problems.append(HeadsProblem(
                f"checkpoint {version}'s heads root {signed.hex()[:16]}… differs from the root"
                f" {computed.root.hex()[:16]}… recomputed from the entries{why}", version,
                tuple(streams)))
        return problems

    def _streams_of(self, depth: int, prefix: int, computed: bytes | None,
                    stored: bytes | None) -> list[str]:
        """The streams whose leaves differ between a recomputed group and a stored one's
        bytes (a stored group that does not decode names none of its own)."""
        def leaves(data: bytes | None) -> dict[tuple[int, int], Node]:
            if data is None:
                return {}
            try:
                return decode_group(self.profile, depth, prefix, data)
            except ValueError:
                return {}

        ours, theirs = leaves(computed), leaves(stored)
        keys: list[bytes] = []
        for position in sorted(set(ours) | set(theirs)):
            mine, found = ours.get(position), theirs.get(position)
            if mine == found:
                continue
            for node in (mine, found):
                if isinstance(node, LeafNode) and node.key not in keys:
                    keys.append(node.key)
        if not keys:
            return []
        if len(self._stream_of) != len(self._heads):  # failures only: built when needed
            self._stream_of = {key: stream for stream, key, _, _ in self._heads.values()}
        streams = self._stream_of
        return [str(streams[k]) if k in streams else f"key {k.hex()[:16]}…" for k in keys]


def _naming(streams: Sequence[str]) -> str:
    """`` (stream a, b)`` or nothing."""
    return f" (stream {', '.join(streams)})" if streams else ""
