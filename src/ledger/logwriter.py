"""The one append algorithm every backend runs inside its write transaction.

Order of work, all under the recorder's exclusive table lock (DESIGN §8: one sequencer):
read the log head and stream heads → seal (stamp ``recorded_at``, link ``prev``) → insert the
events → assign dense leaf indexes from the log's own counter (never from notification ids,
which have gaps after a rollback) → store the new Merkle nodes → sign a checkpoint. The
transaction commits all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger import merkle
from ledger.errors import LedgerError, StaleStreamError
from ledger.merkle import NodeId
from ledger.sealing import SealContext, Sealer, StreamHead, stream_key
from ledger.suites import Profile

CheckpointSigner = Callable[[int, bytes], str]
"""(tree size, root) → signed note text."""


@dataclass(frozen=True)
class LeafRow:
    """One row of ``log_leaves``: leaf index → the entry it commits to."""

    leaf_index: int
    originator_id: UUID | str
    originator_version: int
    entry_hash: bytes
    recorded_at: str
    nonce: str | None
    notification_id: int


class LogTransaction(Protocol):
    """What a backend offers the algorithm inside one write transaction."""

    def lock(self) -> None:
        """Take the exclusive lock that serialises appends."""
        ...

    def log_head(self) -> tuple[int, str | None]:
        """The number of leaves and the newest leaf's ``recorded_at``."""
        ...

    def nodes(self, ids: Collection[NodeId]) -> dict[NodeId, bytes]:
        """Stored Merkle nodes by id."""
        ...

    def stream_heads(self, streams: Sequence[str]) -> dict[str, StreamHead]:
        """Newest (seq, entry hash) of each named stream that has entries."""
        ...

    def seen_nonces(self, nonces: Sequence[str]) -> frozenset[str]:
        """Those of ``nonces`` already recorded."""
        ...

    def insert_events(self, events: Sequence[StoredEvent]) -> list[int]:
        """Insert stored events; return their notification ids in order."""
        ...

    def insert_leaves(self, rows: Sequence[LeafRow]) -> None:
        """Insert leaf rows."""
        ...

    def insert_nodes(self, nodes: Mapping[NodeId, bytes]) -> None:
        """Insert Merkle nodes."""
        ...

    def insert_checkpoint(self, size: int, root: bytes, note: str) -> None:
        """Insert (or keep) the signed checkpoint of this size."""
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


@dataclass
class BatchOutcome:
    """The result of one group commit: accepted filings and per-position refusals."""

    appended: list[Appended] = field(default_factory=list)
    rejected: dict[int, LedgerError] = field(default_factory=dict)
    tree_size: int = 0
    root: bytes = b""


def write_batch(tx: LogTransaction, events: Sequence[StoredEvent], *, sealer: Sealer,
                profile: Profile, sign_checkpoint: CheckpointSigner | None,
                expected_heads: Mapping[str, int] | None = None,
                clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> BatchOutcome:
    """Append ``events`` to the log inside ``tx``; the caller commits or rolls back.

    ``expected_heads`` names streams the batch's decisions relied on without writing to them
    (the key registry): if one moved before the lock, :class:`StaleStreamError` is raised and
    nothing is written, so a key revoked meanwhile is never used.
    """
    tx.lock()
    size, last_recorded_at = tx.log_head()
    expected = dict(expected_heads or {})
    streams = sorted({stream_key(e.originator_id) for e in events} | set(expected))
    batch = sealer.read(events)
    heads = tx.stream_heads(streams)
    for stream, seq in expected.items():
        found = heads[stream].seq if stream in heads else 0
        if found != seq:
            raise StaleStreamError(stream, seq, found)
    ctx = SealContext(
        now=clock(),
        last_recorded_at=last_recorded_at,
        heads=heads,
        seen_nonces=tx.seen_nonces(batch.nonces) if batch.nonces else frozenset(),
    )
    sealed = sealer.seal(batch, ctx)
    outcome = BatchOutcome(rejected=dict(sealed.rejected))
    right_edge = tx.nodes(merkle.root_nodes(size))
    if not sealed.accepted:
        outcome.tree_size = size
        outcome.root = merkle.root_from_right_edge(profile.hash, size, right_edge)
        return outcome
    ids = tx.insert_events([s.stored for s in sealed.accepted])
    rows = [
        LeafRow(size + i, s.stored.originator_id, s.stored.originator_version, s.entry_hash,
                s.recorded_at, s.nonce, notification_id)
        for i, (s, notification_id) in enumerate(zip(sealed.accepted, ids, strict=True))
    ]
    tx.insert_leaves(rows)
    new_nodes, right_edge = merkle.append_leaves(
        profile.hash, size, right_edge, [s.entry_hash for s in sealed.accepted]
    )
    tx.insert_nodes(new_nodes)
    new_size = size + len(rows)
    root = merkle.root_from_right_edge(profile.hash, new_size, right_edge)
    if sign_checkpoint is not None:
        tx.insert_checkpoint(new_size, root, sign_checkpoint(new_size, root))
    outcome.tree_size, outcome.root = new_size, root
    outcome.appended = [
        Appended(s.position, row.leaf_index, s.entry_hash, s.recorded_at, row.notification_id,
                 row.originator_id, row.originator_version)
        for s, row in zip(sealed.accepted, rows, strict=True)
    ]
    return outcome
