"""Sealing: turning pending entries into stored entries under the log's lock.

The ledger stamps ``recorded_at`` and links ``prev`` *inside* the transaction that holds the
recorder's table lock, so that times never decrease along the log order and every link points at
the entry that really precedes it (docs/design.md §5). Sealing is pure: the recorder hands it the
log
head and the stream heads it read under the lock, and writes what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.crypto.suites import Profile
from ledger.errors import ConflictError, DuplicateNonceError, LedgerError, MalformedEntryError
from ledger.log.entries import ZERO_HASH, PendingEntry, format_time


@dataclass(frozen=True)
class StreamHead:
    """The newest entry of a stream as the log records it."""

    seq: int
    entry_hash: bytes


@dataclass(frozen=True)
class SealContext:
    """What the recorder read under its lock, plus the clock."""

    now: datetime
    last_recorded_at: str | None
    heads: Mapping[str, StreamHead]
    seen_nonces: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SealedEvent:
    """A stored event ready to insert, with what its log leaf needs."""

    position: int  # index in the batch the caller gave
    stored: StoredEvent
    entry_hash: bytes
    recorded_at: str
    nonce: str | None
    prev: str | None = None  # the hash it links to (None: opaque bytes, not an entry)


@dataclass
class SealResult:
    """Accepted events in batch order, and per-position refusals."""

    accepted: list[SealedEvent] = field(default_factory=list)
    rejected: dict[int, LedgerError] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadBatch:
    """A batch as the sealer read it, once: each event's pending entry (or why it is not one),
    and the nonces the recorder must look up under the lock before sealing."""

    events: Sequence[StoredEvent]
    pending: Sequence[PendingEntry | ValueError | None]
    nonces: Sequence[str]


class Sealer(Protocol):
    """Decides, under the lock, the final bytes of each stored event."""

    def read(self, events: Sequence[StoredEvent],
             parsed: Sequence[PendingEntry] | None = None) -> ReadBatch:
        """Parse the batch once (the recorder needs its nonces before sealing).

        ``parsed``: the pending entries the events' bytes were made from, when the caller
        has them (the ledger does), so they need not be parsed back.
        """
        ...

    def seal(self, batch: ReadBatch, ctx: SealContext) -> SealResult:
        """Return the final stored events, or refusals for those that may not be appended."""
        ...


def stream_key(originator_id: UUID | str) -> str:
    """The one spelling of a stream id used as a mapping key."""
    return str(originator_id)


def next_stamp(ctx: SealContext) -> str:
    """``recorded_at`` for this batch: the clock, but never before the log's newest entry."""
    stamp = format_time(ctx.now)
    if ctx.last_recorded_at is not None and stamp < ctx.last_recorded_at:
        # Fixed-width RFC 3339 strings compare like times; a clock step back keeps the order.
        return ctx.last_recorded_at
    return stamp


@dataclass(frozen=True)
class OpaqueSealer:
    """Leaves the bytes as they are: every stored event is a leaf, hashed as given.

    Used for eventsourcing's own recorder test suites, which insert arbitrary state bytes; the
    log machinery (dense leaves, nodes, checkpoints) still runs for every insert.
    """

    profile: Profile

    def read(self, events: Sequence[StoredEvent],
             parsed: Sequence[PendingEntry] | None = None) -> ReadBatch:
        """Opaque events are not parsed and carry no nonce."""
        return ReadBatch(events, [None] * len(events), ())

    def seal(self, batch: ReadBatch, ctx: SealContext) -> SealResult:
        """Accept every event unchanged; the database's key still refuses duplicates."""
        stamp = next_stamp(ctx)
        result = SealResult()
        for position, event in enumerate(batch.events):
            result.accepted.append(
                SealedEvent(position, event, self.profile.digest(event.state), stamp, None)
            )
        return result


@dataclass(frozen=True)
class EntrySealer:
    """Seals docs/design.md §5 entries: checks position and nonce, links ``prev``, stamps the
    time."""

    profile: Profile

    def read(self, events: Sequence[StoredEvent],
             parsed: Sequence[PendingEntry] | None = None) -> ReadBatch:
        """Parse each pending entry once; a malformed one is kept as its error."""
        if parsed is not None:
            if len(parsed) != len(events):
                raise ValueError(f"{len(parsed)} pending entries for {len(events)} events")
            return ReadBatch(events, parsed, [str(p.filing.nonce) for p in parsed])
        pending: list[PendingEntry | ValueError | None] = []
        for event in events:
            try:
                pending.append(PendingEntry.from_bytes(event.state))
            except ValueError as exc:
                pending.append(exc)
        nonces = [str(p.filing.nonce) for p in pending if isinstance(p, PendingEntry)]
        return ReadBatch(events, pending, nonces)

    def seal(self, batch: ReadBatch, ctx: SealContext) -> SealResult:
        """Seal each pending entry; refuse those whose stream moved or whose nonce is used.

        A refusal fails only its own filing and the later filings of the same stream in
        this batch (they were decided on top of it), never the rest of the batch.
        """
        stamp = next_stamp(ctx)
        result = SealResult()
        heads = dict(ctx.heads)
        broken: set[str] = set()
        nonces_in_batch: set[str] = set()
        for position, (event, pending) in enumerate(zip(batch.events, batch.pending,
                                                        strict=True)):
            key = stream_key(event.originator_id)
            if not isinstance(pending, PendingEntry):
                result.rejected[position] = MalformedEntryError(
                    f"not a pending entry: {pending}", stream=key, seq=event.originator_version
                )
                broken.add(key)
                continue
            nonce = str(pending.filing.nonce)
            head = heads.get(key)
            head_seq = head.seq if head else 0
            if key in broken or pending.seq != head_seq + 1 or pending.seq != (
                event.originator_version
            ):
                result.rejected[position] = ConflictError(
                    UUID(key), pending.seq, head_seq
                )
                broken.add(key)
                continue
            if nonce in ctx.seen_nonces or nonce in nonces_in_batch:
                result.rejected[position] = DuplicateNonceError(nonce)
                broken.add(key)
                continue
            prev = head.entry_hash.hex() if head else ZERO_HASH
            entry = pending.sealed(prev, stamp)
            data = entry.canonical()
            digest = self.profile.digest(data)
            stored = StoredEvent(event.originator_id, event.originator_version, event.topic, data)
            result.accepted.append(SealedEvent(position, stored, digest, stamp, nonce, prev))
            heads[key] = StreamHead(pending.seq, digest)
            nonces_in_batch.add(nonce)
        return result
