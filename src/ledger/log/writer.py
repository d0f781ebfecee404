"""The one append algorithm every backend runs inside its write transaction.

Order of work, all under the recorder's exclusive table lock (docs/design.md §8: one sequencer):
read the log head, the Merkle right edge and the stream heads → seal (stamp ``recorded_at``,
link ``prev``) → insert the events → assign dense leaf indexes from the log's own counter
(never from notification ids, which have gaps after a rollback) → store the new Merkle
nodes → move the stream heads map (:mod:`ledger.log.heads`) → sign a checkpoint carrying both
roots. The transaction commits all of it or none of it; the process's in-memory heads map takes
the batch's new version only once the backend has committed it (``BatchOutcome.heads_update``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.crypto.suites import Profile
from ledger.errors import IntegrityFailedError, LedgerError, StaleStreamError
from ledger.log import merkle
from ledger.log.entries import PendingEntry
from ledger.log.heads import CurrentHeads, HeadRow, HeadsBehindError, HeadsUpdate, head_changes
from ledger.log.merkle import NodeId
from ledger.log.sealing import SealContext, SealedEvent, Sealer, StreamHead, stream_key

CheckpointSigner = Callable[[int, bytes, bytes], str]
"""(tree size, root, heads root) → signed note text; the heads root is the stream heads map's
at that size, carried as the checkpoint's ``heads`` extension line."""


@dataclass(frozen=True)
class NewLeaf:
    """A leaf to write: leaf index → the entry it commits to. Its event's notification id is
    assigned by the same insert, so a new leaf does not carry one yet."""

    leaf_index: int
    originator_id: UUID | str
    originator_version: int
    entry_hash: bytes
    recorded_at: str
    nonce: str | None


@dataclass(frozen=True)
class LeafRow(NewLeaf):
    """One row of ``log_leaves``, as stored: the leaf and its event's notification id."""

    notification_id: int


LogRow = tuple[int, UUID | str, int, bytes, str, str | None, int, str | None, bytes | None]
"""A leaf joined with its entry, as ``ledger verify`` reads the log a page at a time: the
columns of :class:`LeafRow` in its order, then the event's topic and stored bytes (both None
where the event row is gone). A plain tuple: the rows come from the database as tuples, and
an object per row was a tenth of verify's main process."""


@dataclass(frozen=True)
class LockedLog:
    """What the append reads under the lock: everything sealing and the tree need."""

    size: int
    last_recorded_at: str | None
    heads: Mapping[str, StreamHead]
    seen_nonces: frozenset[str]
    right_edge: Mapping[NodeId, bytes]
    head_rows: Sequence[HeadRow] | None = ()
    """The heads map's node versions above the version the caller's map is at, by version
    (committed by other processes); None if the map is too far behind to read them under the
    lock (:data:`ledger.log.heads.CATCH_UP_LEAVES`)."""


class LogTransaction(Protocol):
    """What a backend offers the algorithm inside one write transaction.

    Two calls, so that a networked backend can make each one round trip (PostgreSQL calls
    one server function for each); an in-process backend simply runs the statements in turn.
    """

    def lock_and_read(self, streams: Sequence[str], nonces: Sequence[str],
                      heads_version: int) -> LockedLog:
        """Take the exclusive lock that serialises appends, then read, under it, the log head
        (size, newest ``recorded_at``), the Merkle right edge at that size, the newest
        (seq, hash) of each named stream that has entries, which ``nonces`` are used, and
        the heads map's node versions above ``heads_version`` (the caller's map) unless the
        log is more than :data:`~ledger.log.heads.CATCH_UP_LEAVES` beyond it."""
        ...

    def write(self, events: Sequence[StoredEvent], leaves: Sequence[NewLeaf],
              nodes: Mapping[NodeId, bytes], checkpoint: tuple[int, bytes, str] | None,
              heads: HeadsUpdate) -> list[int]:
        """Insert the events, their leaves (each with its event's notification id), the new
        Merkle nodes, the heads map's new node versions and the signed checkpoint (size,
        root, note); return the events' notification ids in order."""
        ...


@dataclass(frozen=True)
class Appended:
    """Where one accepted filing landed."""

    position: int
    leaf_index: int
    entry_hash: bytes
    recorded_at: str
    notification_id: int
    originator_id: UUID | str
    originator_version: int
    prev: str | None = None  # the entry's ``prev`` (None for opaque events)


@dataclass
class BatchOutcome:
    """The result of one group commit: accepted filings and per-position refusals."""

    appended: list[Appended] = field(default_factory=list)
    rejected: dict[int, LedgerError] = field(default_factory=dict)
    tree_size: int = 0
    root: bytes = b""
    right_edge: Mapping[NodeId, bytes] = field(default_factory=dict)  # at ``tree_size``
    last_recorded_at: str | None = None  # the newest entry's, at ``tree_size``
    heads: Mapping[str, StreamHead] = field(default_factory=dict)  # streams seen, after it
    heads_update: HeadsUpdate | None = None
    """The heads map's new version, written by the transaction: the backend merges it into its
    :class:`~ledger.log.heads.CurrentHeads` once the transaction has committed, never before."""
    checkpoint: tuple[int, bytes, str] | None = None
    """The checkpoint the transaction stored (size, root, signed note), if it signed one."""


def write_batch(tx: LogTransaction, events: Sequence[StoredEvent], *, sealer: Sealer,
                profile: Profile, sign_checkpoint: CheckpointSigner | None,
                heads: CurrentHeads,
                expected_heads: Mapping[str, int] | None = None,
                clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                pending: Sequence[PendingEntry] | None = None) -> BatchOutcome:
    """Append ``events`` to the log inside ``tx``; the caller commits or rolls back, and
    after a commit merges ``outcome.heads_update`` into ``heads`` (the process's map).

    ``expected_heads`` names streams the batch's decisions relied on without writing to them
    (the key registry): if one moved before the lock, :class:`StaleStreamError` is raised and
    nothing is written, so a key revoked meanwhile is never used. ``pending``: the pending
    entries the events were made from, if the caller has them (see :meth:`Sealer.read`).
    Raises :class:`~ledger.log.heads.HeadsBehindError` (nothing written) if ``heads`` is too
    far behind the log to catch up under the lock.
    """
    batch = sealer.read(events, pending)  # pure parsing: done before the lock, to keep it short
    expected = dict(expected_heads or {})
    streams = sorted({stream_key(e.originator_id) for e in events} | set(expected))
    locked = tx.lock_and_read(streams, batch.nonces, heads.version)
    if locked.head_rows is None:
        raise HeadsBehindError(f"the heads map is at {heads.version}, the log at {locked.size}")
    # Versions other processes committed: safe to take in now, whatever becomes of this batch.
    heads.catch_up(locked.size, locked.head_rows)
    for stream, seq in expected.items():
        head = locked.heads.get(stream)
        found = head.seq if head is not None else 0
        if found != seq:
            raise StaleStreamError(stream, seq, found)
    size = locked.size
    ctx = SealContext(now=clock(), last_recorded_at=locked.last_recorded_at,
                      heads=locked.heads, seen_nonces=locked.seen_nonces)
    sealed = sealer.seal(batch, ctx)
    outcome = BatchOutcome(rejected=dict(sealed.rejected),
                           last_recorded_at=locked.last_recorded_at, heads=dict(locked.heads))
    if not sealed.accepted:
        outcome.tree_size, outcome.right_edge = size, locked.right_edge
        outcome.root = merkle.root_from_right_edge(profile.hash, size, locked.right_edge)
        return outcome
    try:
        plan = _plan(sealed.accepted, size, locked.right_edge, profile, sign_checkpoint,
                     heads=heads)
    except ValueError as exc:
        if set(locked.right_edge) != set(merkle.root_nodes(size)):
            # The stored tree does not end where the log's leaves do: rows edited or deleted
            # beneath the ledger. Nothing can be appended to it; say so, by name.
            raise IntegrityFailedError(
                f"the stored Merkle tree's right edge does not match the log's {size} leaves"
                " (the database was edited beneath the ledger; run `ledger verify`)") from exc
        # A stream's seq not above its head: a (stream, seq) already stored, which the events
        # table's key refuses. The entry sealer refuses such filings itself; the opaque one
        # (eventsourcing's recorder tests) leaves it to the key, so refuse as the key would.
        raise IntegrityError(str(exc)) from exc
    if plan is None:  # the map was brought to ``size`` above and only this lock's holder moves it
        raise AssertionError(f"the heads map left size {size} under the lock")
    ids = tx.write([s.stored for s in sealed.accepted], plan.leaves, plan.nodes,
                   plan.checkpoint, plan.heads)
    return plan.outcome(outcome, sealed.accepted, ids)


@dataclass(frozen=True)
class _Plan:
    """The rows an accepted batch adds to the log at a given size."""

    leaves: list[NewLeaf]
    nodes: Mapping[NodeId, bytes]
    checkpoint: tuple[int, bytes, str] | None
    size: int
    root: bytes
    right_edge: Mapping[NodeId, bytes]
    heads: HeadsUpdate

    def outcome(self, outcome: BatchOutcome, accepted: Sequence[SealedEvent],
                ids: Sequence[int]) -> BatchOutcome:
        outcome.tree_size, outcome.root, outcome.right_edge = (
            self.size, self.root, self.right_edge)
        outcome.heads_update = self.heads
        outcome.checkpoint = self.checkpoint
        outcome.appended = [
            Appended(s.position, leaf.leaf_index, s.entry_hash, s.recorded_at,
                     notification_id, leaf.originator_id, leaf.originator_version, s.prev)
            for s, leaf, notification_id in zip(accepted, self.leaves, ids, strict=True)
        ]
        heads = dict(outcome.heads)
        for s in accepted:  # in log order: the last of each stream is its head
            heads[stream_key(s.stored.originator_id)] = StreamHead(
                s.stored.originator_version, s.entry_hash)
        outcome.heads = heads
        outcome.last_recorded_at = accepted[-1].recorded_at
        return outcome


def _plan(accepted: Sequence[SealedEvent], size: int, right_edge: Mapping[NodeId, bytes],
          profile: Profile, sign_checkpoint: CheckpointSigner | None, *,
          heads: CurrentHeads) -> _Plan | None:
    """Dense leaf indexes from ``size`` on, the new Merkle nodes, the heads map's new version
    (an overlay: ``heads`` itself is not changed) and the checkpoint signed over both roots.
    None if ``heads`` is not at ``size`` (only a prediction can find it elsewhere); ValueError
    if a stream's seq is not above its head in ``heads``."""
    leaves = [
        NewLeaf(size + i, s.stored.originator_id, s.stored.originator_version, s.entry_hash,
                s.recorded_at, s.nonce)
        for i, s in enumerate(accepted)
    ]
    new_size = size + len(leaves)
    changes = head_changes(
        (leaf.originator_id, leaf.originator_version, leaf.entry_hash, leaf.leaf_index)
        for leaf in leaves)
    update = heads.plan(size, changes, new_size)
    if update is None:
        return None
    new_nodes, new_edge = merkle.append_leaves(
        profile.hash, size, dict(right_edge), [s.entry_hash for s in accepted])
    root = merkle.root_from_right_edge(profile.hash, new_size, new_edge)
    checkpoint = (None if sign_checkpoint is None
                  else (new_size, root, sign_checkpoint(new_size, root, update.root)))
    return _Plan(leaves, new_nodes, checkpoint, new_size, root, new_edge, update)


# --- the one-statement append --------------------------------------------------------------

@dataclass
class KnownLog:
    """What this process last saw of the log: its head after our newest append, and the
    newest entry of streams it wrote or read under the lock. Only a prediction: the append
    that relies on it checks every part under the lock (:func:`write_predicted`)."""

    size: int
    last_recorded_at: str | None
    right_edge: Mapping[NodeId, bytes]
    heads: dict[str, StreamHead] = field(default_factory=dict)

    @classmethod
    def after(cls, outcome: BatchOutcome) -> KnownLog:
        """What an append leaves known."""
        known = cls(0, None, {})
        known.learn(outcome)
        return known

    def learn(self, outcome: BatchOutcome) -> None:
        """Take in an append's result (appends finishing out of order never step back)."""
        if outcome.tree_size >= self.size:
            self.size, self.right_edge = outcome.tree_size, outcome.right_edge
            self.last_recorded_at = outcome.last_recorded_at
        for key, head in outcome.heads.items():
            known = self.heads.get(key)
            if known is None or known.seq < head.seq:
                self.heads[key] = head
        if len(self.heads) > _KNOWN_HEADS:  # oldest first (insertion order): forget half
            for key in list(self.heads)[:_KNOWN_HEADS // 2]:
                del self.heads[key]


_KNOWN_HEADS = 100_000


@dataclass(frozen=True)
class Expected:
    """What a one-statement append requires to find under the lock, else it writes nothing:
    the log's size, each stream's newest (seq, hash) — seq 0 for none — and no used nonce."""

    size: int
    streams: list[str]
    seqs: list[int]
    hashes: list[bytes | None]  # None: the seq alone is checked (streams only relied on)
    nonces: Sequence[str]


class PredictedWrite(Protocol):
    """A backend that can append in one statement, on condition (:class:`Expected`)."""

    def write_if(self, expected: Expected, events: Sequence[StoredEvent],
                 leaves: Sequence[NewLeaf], nodes: Mapping[NodeId, bytes],
                 checkpoint: tuple[int, bytes, str] | None, *,
                 heads: HeadsUpdate) -> list[int] | None:
        """Lock; if the log is as expected, insert as :meth:`LogTransaction.write` does and
        return the notification ids; otherwise write nothing and return None."""
        ...


def write_predicted(tx: PredictedWrite, events: Sequence[StoredEvent], known: KnownLog, *,
                    sealer: Sealer, profile: Profile,
                    sign_checkpoint: CheckpointSigner | None,
                    heads: CurrentHeads,
                    expected_heads: Mapping[str, int] | None = None,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                    pending: Sequence[PendingEntry] | None = None) -> BatchOutcome | None:
    """:func:`write_batch` in one statement, sealed on what ``known`` predicts instead of a
    read under the lock. The statement checks the prediction under the lock and writes only
    if it holds, so the result is the one :func:`write_batch` would give. None — nothing
    written — when a stream's head is not known, when sealing on the prediction refuses
    anything (the refusal must come from what is stored), or when the log is not as
    predicted (another writer appended), or when ``heads`` is not at the predicted size (its
    update would not be the one the log needs): the caller then runs :func:`write_batch`.
    As there, the caller merges ``outcome.heads_update`` into ``heads`` after the commit."""
    batch = sealer.read(events, pending)
    seal_heads: dict[str, StreamHead] = {}
    checks: dict[str, StreamHead | None] = {}
    for event in events:
        key = stream_key(event.originator_id)
        if key in checks:
            continue
        if event.originator_version == 1:
            checks[key] = None
            continue
        head = known.heads.get(key)
        if head is None or head.seq != event.originator_version - 1:
            return None
        checks[key] = seal_heads[key] = head
    sealed = sealer.seal(batch, SealContext(now=clock(), last_recorded_at=known.last_recorded_at,
                                            heads=seal_heads))
    if sealed.rejected or not sealed.accepted:
        return None
    relied: dict[str, int] = {}
    for stream, seq in (expected_heads or {}).items():
        if stream not in checks:
            relied[stream] = seq
        else:
            in_batch = checks[stream]
            if seq != (in_batch.seq if in_batch is not None else 0):
                return None  # the batch contradicts itself: let the locked read decide
    expected = Expected(
        size=known.size,
        streams=[*checks, *relied],
        seqs=[head.seq if head else 0 for head in checks.values()] + list(relied.values()),
        hashes=[head.entry_hash if head else None for head in checks.values()]
        + [None] * len(relied),
        nonces=batch.nonces)
    try:
        plan = _plan(sealed.accepted, known.size, known.right_edge, profile, sign_checkpoint,
                     heads=heads)
    except ValueError:
        # The map knows a newer head than the prediction (another process appended to the
        # stream): the statement would find the log moved and refuse too.
        plan = None
    if plan is None:
        return None
    ids = tx.write_if(expected, [s.stored for s in sealed.accepted], plan.leaves, plan.nodes,
                      plan.checkpoint, heads=plan.heads)
    if ids is None:
        return None
    return plan.outcome(BatchOutcome(), sealed.accepted, ids)
