"""The stream heads map's half of ``ledger verify``: the map recomputed from the leaves, compared
with every checkpoint's ``heads`` line and every stored node version.

:class:`RecomputedHeads` takes the leaves in log order, as the pass reads them, and applies each
checkpoint's run of leaves as one version, as the writer did: every checkpoint size is a version
(docs/evidence-format.md, Stream heads map, What the map holds), so the nodes it rewrites are
exactly the nodes the writer rewrote for that version, and the node groups holding them are
the rows it stored (:class:`~ledger.log.heads.GroupSlots`). Only the current map is kept
(:class:`~ledger.log.heads.LatestNodeStore`): a version costs what the append paid for it, about
``log2(streams)`` hashes per stream it moves. :meth:`RecomputedHeads.compare` then checks a
version's stored rows and its checkpoint's ``heads`` root, naming the streams whose heads differ.
Before the map's first version (a log upgraded by ``ledger init``) the leaves only fold into the
streams' heads; the first version is then the whole map, as the upgrade stored it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from ledger.crypto.suites import Profile
from ledger.errors import HeadProofError
from ledger.log.headmap import HeadMap, LeafNode, Node, StreamHead, head_key
from ledger.log.heads import (
    GroupSlots,
    HeadRow,
    LatestNodeStore,
    OverlayNodeStore,
    decode_group,
    decode_prefix,
    encode_prefix,
    map_stream,
)
from ledger.log.writer import LeafRow

_LISTED = 10
"""Differing nodes described per version; the rest are counted."""


@dataclass(frozen=True)
class HeadsVersion:
    """One version of the recomputed map: its root, the nodes it rewrote and the node groups
    holding them (the rows the writer stores), by the group's top position."""

    version: int
    root: bytes
    written: Mapping[tuple[int, int], Node]
    groups: Mapping[tuple[int, int], bytes]


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
    _store: LatestNodeStore = field(default_factory=LatestNodeStore)
    _groups: GroupSlots = field(default_factory=GroupSlots)
    """The stored groups slot by slot, so that a version's groups are encoded from the slots
    it changes, as the writer encodes them."""
    _heads: dict[UUID, StreamHead] = field(default_factory=dict)
    _pending: dict[UUID, tuple[int, bytes, int]] = field(default_factory=dict)
    _key_of: dict[UUID, bytes] = field(default_factory=dict)
    """Each stream's map key, hashed once rather than at every version that moves it."""
    _stream_of: dict[bytes, UUID] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """The versions: the start and every checkpoint size after it."""
        if self.start is not None:
            self._cuts = sorted({self.start, *(s for s in self.sizes if s > self.start)})

    @property
    def active(self) -> bool:
        """Whether there is a map to recompute."""
        return self.start is not None

    def extend(self, leaves: Iterable[LeafRow]) -> None:
        """Take the next leaves in log order; apply each version as a leaf passes its size."""
        if self.start is None:
            return
        cuts, pending = self._cuts, self._pending
        for leaf in leaves:
            index = leaf.leaf_index
            while self._next < len(cuts) and index >= cuts[self._next]:
                self._cut(cuts[self._next])
                self._next += 1
            stream = map_stream(leaf.originator_id)
            if stream is not None:
                pending[stream] = (leaf.originator_version, leaf.entry_hash, index)

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
        changes: dict[bytes, tuple[UUID, StreamHead]] = {}
        key_of = self._key_of
        for stream, (seq, digest, index) in self._pending.items():
            old = self._heads.get(stream)
            if old is not None and (seq <= old.seq or index <= old.leaf_index):
                self.problems.append(HeadsProblem(
                    f"stream {stream}'s entry seq {seq} at leaf {index} does not follow its head,"
                    f" seq {old.seq} at leaf {old.leaf_index}: left out of the recomputed map",
                    version, (str(stream),)))
                continue
            key = key_of.get(stream)
            if key is None:
                key = key_of[stream] = head_key(self.profile, stream)
            try:
                changes[key] = (stream, StreamHead(seq, digest, index))
            except HeadProofError as exc:
                self.problems.append(HeadsProblem(f"stream {stream}'s leaf {index} cannot be a"
                                                  f" head: {exc}", version, (str(stream),)))
        self._pending.clear()
        overlay = OverlayNodeStore(self._store)
        heads = HeadMap(self.profile, overlay)
        if changes:
            # HeadMap.apply for keys already hashed (two streams never share a key: the
            # keys are SHA-256 or SM3 of distinct ids); the walk reads the map's dict directly
            # (every read is at the overlay's base).
            root = heads._apply_keyed(changes, version, self._store.nodes.get)
        else:
            overlay.put(version, {})
            root = heads.root()
        written = overlay.written
        self._store.put(version, written)
        # The groups holding what the version rewrote, as the writer stored them; a group not
        # kept yet is read from the map as of this version.
        groups, slots = self._groups.encode(written, self._store.nodes.get)
        self._groups.merge(slots)
        self._heads.update(changes.values())
        self.done.append(HeadsVersion(version, root, written, groups))

    # --- comparing with what is stored -------------------------------------------------------

    def compare(self, computed: HeadsVersion, stored: Sequence[HeadRow] | None,
                signed: bytes | None) -> list[HeadsProblem]:
        """Check a version's stored rows against the node groups it rewrote (None: rows in a
        layout not compared), and the ``heads`` root ``signed`` into its checkpoint (None:
        the checkpoint has no line, or there is none).

        A differing root names the streams whose stored leaves differ at this version, or says
        that the stored map agrees with the entries (a checkpoint signed over a wrong line).
        """
        version = computed.version
        rows: dict[tuple[int, bytes], bytes] = {(d, p): n for _, d, p, n in stored or ()}
        groups = computed.groups if stored is not None else {}
        differing: list[str] = []
        streams: list[str] = []
        for (depth, prefix), group in groups.items():
            found = rows.pop((depth, encode_prefix(depth, prefix)), None)
            if found == group:
                continue
            named = self._streams_of(depth, prefix, group, found)
            streams.extend(s for s in named if s not in streams)
            what = "missing" if found is None else "differs from the one recomputed"
            bits = format(prefix, f"0{depth}b") if depth else "-"
            differing.append(f"node group at depth {depth}, prefix {bits}, {what}"
                             f"{_naming(named)}")
        for depth, prefix_bytes in sorted(rows):
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
        if len(self._stream_of) != len(self._key_of):  # failures only: built when needed
            self._stream_of = {key: stream for stream, key in self._key_of.items()}
        streams = self._stream_of
        return [str(streams[k]) if k in streams else f"key {k.hex()[:16]}…" for k in keys]


def _naming(streams: Sequence[str]) -> str:
    """`` (stream a, b)`` or nothing."""
    return f" (stream {', '.join(streams)})" if streams else ""
