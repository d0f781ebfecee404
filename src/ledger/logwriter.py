"""The one append algorithm every backend runs inside its write transaction.

Order of work, all under the recorder's exclusive table lock (DESIGN §8: one sequencer):
read the log head, the Merkle right edge and the stream heads → seal (stamp ``recorded_at``,
link ``prev``) → insert the events → assign dense leaf indexes from the log's own counter
(never from notification ids, which have gaps after a rollback) → store the new Merkle
nodes → sign a checkpoint. The transaction commits all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger import merkle
from ledger.entries import PendingEntry
from ledger.errors import LedgerError, StaleStreamError
from ledger.merkle import NodeId
from ledger.sealing import SealContext, Sealer, StreamHead, stream_key
from ledger.suites import Profile

CheckpointSigner = Callable[[int, bytes], str]
"""(tree size, root) → signed note text."""


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


@dataclass(frozen=True)
class LockedLog:
    """What the append reads under the lock: everything sealing and the tree need."""

    size: int
    last_recorded_at: str | None
    heads: Mapping[str, StreamHead]
    seen_nonces: frozenset[str]
    right_edge: Mapping[NodeId, bytes]


class LogTransaction(Protocol):
    """What a backend offers the algorithm inside one write transaction.

    Two calls, so that a networked backend can make each one round trip (PostgreSQL calls
    one server function for each); an in-process backend simply runs the statements in turn.
    """

    def lock_and_read(self, streams: Sequence[str], nonces: Sequence[str]) -> LockedLog:
        """Take the exclusive lock that serialises appends, then read, under it, the log head
        (size, newest ``recorded_at``), the Merkle right edge at that size, the newest
        (seq, hash) of each named stream that has entries, and which ``nonces`` are used."""
        ...

    def write(self, events: Sequence[StoredEvent], leaves: Sequence[NewLeaf],
              nodes: Mapping[NodeId, bytes], checkpoint: tuple[int, bytes, str] | None,
              ) -> list[int]:
        """Insert the events, their leaves (each with its event's notification id), the new
        Merkle nodes and the signed checkpoint (size, root, note); return the events'
        notification ids in order."""
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


def write_batch(tx: LogTransaction, events: Sequence[StoredEvent], *, sealer: Sealer,
                profile: Profile, sign_checkpoint: CheckpointSigner | None,
                expected_heads: Mapping[str, int] | None = None,
                clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                pending: Sequence[PendingEntry] | None = None) -> BatchOutcome:
    """Append ``events`` to the log inside ``tx``; the caller commits or rolls back.

    ``expected_heads`` names streams the batch's decisions relied on without writing to them
    (the key registry): if one moved before the lock, :class:`StaleStreamError` is raised and
    nothing is written, so a key revoked meanwhile is never used. ``pending``: the pending
    entries the events were made from, if the caller has them (see :meth:`Sealer.read`).
    """
    batch = sealer.read(events, pending)  # pure parsing: done before the lock, to keep it short
    expected = dict(expected_heads or {})
    streams = sorted({stream_key(e.originator_id) for e in events} | set(expected))
    locked = tx.lock_and_read(streams, batch.nonces)
    for stream, seq in expected.items():
        head = locked.heads.get(stream)
        found = head.seq if head is not None else 0
        if found != seq:
            raise StaleStreamError(stream, seq, found)
    size = locked.size
    ctx = SealContext(now=clock(), last_recorded_at=locked.last_recorded_at,
                      heads=locked.heads, seen_nonces=locked.seen_nonces)
    sealed = sealer.seal(batch, ctx)
    outcome = BatchOutcome(rejected=dict(sealed.rejected))
    if not sealed.accepted:
        outcome.tree_size, outcome.right_edge = size, locked.right_edge
        outcome.root = merkle.root_from_right_edge(profile.hash, size, locked.right_edge)
        return outcome
    leaves = [
        NewLeaf(size + i, s.stored.originator_id, s.stored.originator_version, s.entry_hash,
                s.recorded_at, s.nonce)
        for i, s in enumerate(sealed.accepted)
    ]
    new_nodes, right_edge = merkle.append_leaves(
        profile.hash, size, dict(locked.right_edge), [s.entry_hash for s in sealed.accepted]
    )
    new_size = size + len(leaves)
    root = merkle.root_from_right_edge(profile.hash, new_size, right_edge)
    checkpoint = (None if sign_checkpoint is None
                  else (new_size, root, sign_checkpoint(new_size, root)))
    ids = tx.write([s.stored for s in sealed.accepted], leaves, new_nodes, checkpoint)
    outcome.tree_size, outcome.root, outcome.right_edge = new_size, root, right_edge
    outcome.appended = [
        Appended(s.position, leaf.leaf_index, s.entry_hash, s.recorded_at, notification_id,
                 leaf.originator_id, leaf.originator_version, s.prev)
        for s, leaf, notification_id in zip(sealed.accepted, leaves, ids, strict=True)
    ]
    return outcome
