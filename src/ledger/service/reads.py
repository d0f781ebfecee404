"""Verified reads of streams: every entry hash recomputed, every link checked, and the newest
entry proved in the latest signed checkpoint; and plain reads of single entries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.persistence import ApplicationRecorder, EventStore, Mapper, StoredEvent

from ledger.errors import (
    ChainBrokenError,
    EntryHashMismatchError,
    IntegrityFailedError,
    ProjectNotFoundError,
)
from ledger.log.entries import ZERO_HASH
from ledger.log.store import LogStore
from ledger.measures.aggregates import Project
from ledger.measures.events import EntryEvent
from ledger.service.custody import KeyCustody
from ledger.service.proofs import LogProofs
from ledger.service.submission import Receipt


class VerifiedReads:
    """Rebuilds streams from the database, checked against the log, never from the cache."""

    def __init__(self, *, repository: Repository[UUID], events: EventStore[UUID],
                 recorder: ApplicationRecorder, mapper: Mapper[UUID], log: LogStore,
                 proofs: LogProofs, custody: KeyCustody) -> None:
        self._repository = repository  # without the write side's cache
        self._events = events
        self._recorder = recorder
        self._mapper = mapper
        self._log = log
        self._proofs = proofs
        self._custody = custody

    def project(self, project_id: UUID) -> Project:
        """A project rebuilt from its stream, verified: hashes, links, newest in checkpoint."""
        newest = self._log.stream_head_leaf(project_id)  # before the entries: see check_head
        try:
            project = cast(Project, self._repository.get(
                project_id, projector_func=_fold_entries))
        except AggregateNotFoundError:
            raise ProjectNotFoundError(project_id) from None
        except ChainBrokenError as exc:
            raise self._pinpoint(exc) from None
        if not isinstance(project, Project):
            raise ProjectNotFoundError(project_id)
        self._proofs.check_head(project_id, project.version, project.head_hash, newest)
        return project

    def events_of(self, stream: UUID, *, as_known_at: str | None = None) -> list[EntryEvent]:
        """Every entry of a stream, verified like :meth:`project`; with ``as_known_at``, those
        recorded at or before it. They are a prefix of the stream (``recorded_at`` never
        decreases along the log), so only that prefix is read and checked, ending at its leaf.
        """
        newest = self._log.stream_head_leaf(stream, as_known_at)  # before the entries
        if newest is None and as_known_at is not None:
            raise ProjectNotFoundError(stream)
        stop = newest.originator_version if as_known_at is not None and newest else None
        events = cast(list[EntryEvent], list(self._events.get(stream, lte=stop)))
        if not events:
            raise ProjectNotFoundError(stream)
        head = ZERO_HASH
        for expected_seq, event in enumerate(events, start=1):
            if event.originator_version != expected_seq or event.prev != head:
                raise self._pinpoint(ChainBrokenError(
                    f"expected seq {expected_seq} linked to {head}", stream=stream,
                    seq=event.originator_version))
            head = cast(str, event.entry_hash)
        self._proofs.check_head(stream, len(events), head, newest)
        return events

    def _pinpoint(self, error: ChainBrokenError) -> IntegrityFailedError:
        """A broken link at seq n usually means entry n−1 changed: name it if its leaf says so.

        Runs only on the failure path, so reads stay at hash cost.
        """
        if error.seq is None or error.seq < 2 or error.stream is None:
            return error
        stream = UUID(str(error.stream))
        previous = self._log.leaf_for(stream, error.seq - 1)
        stored = self._recorder.select_events(stream, gt=error.seq - 2, lte=error.seq - 1)
        if previous is None or not stored:
            return ChainBrokenError(f"entry seq {error.seq - 1} is missing", stream=stream,
                                    seq=error.seq - 1)
        if self._custody.profile.digest(stored[0].state) != previous.entry_hash:
            return EntryHashMismatchError(
                "the entry's bytes do not hash to its log leaf (edited?)", stream=stream,
                seq=error.seq - 1, leaf_index=previous.leaf_index)
        return error

    def entry_at(self, stream: UUID, seq: int) -> EntryEvent | None:
        """One stored entry of a stream (hash computed from its bytes), or None."""
        stored = self._recorder.select_events(stream, gt=seq - 1, lte=seq)
        if not stored:
            return None
        return cast(EntryEvent, self._mapper.to_domain_event(stored[0]))

    def receipt_for_nonce(self, nonce: str) -> tuple[Receipt, EntryEvent] | None:
        """The receipt and entry of an already-recorded filing (idempotent retries)."""
        leaf = self._log.leaf_for_nonce(nonce)
        if leaf is None:
            return None
        stream = UUID(str(leaf.originator_id))
        event = self.entry_at(stream, leaf.originator_version)
        if event is None:
            return None
        return Receipt(stream=stream, seq=leaf.originator_version, type=event.filing.type,
                       entry_hash=leaf.entry_hash.hex(), leaf_index=leaf.leaf_index,
                       recorded_at=leaf.recorded_at, nonce=nonce), event

    def iter_entries(self) -> Iterator[tuple[int, StoredEvent | None]]:
        """Every leaf index with its stored event, in log order."""
        for leaf, event in self._log.iter_log():
            yield leaf.leaf_index, event


def _fold_entries(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's ``project_aggregate`` without its per-event runtime Protocol check
    (a quarter of a verified read's time): the mapper only ever yields ``EntryEvent``s."""
    for event in events:
        aggregate = cast(EntryEvent, event).mutate(aggregate)
    return aggregate


__all__ = ["VerifiedReads"]
