"""The mapper between domain events and what the recorder stores: docs/design.md §5 entries.

A stored event's ``topic`` is the event type (``ContractFiled``) and its ``state`` is the
canonical bytes of the entry — the exact bytes an independent verifier hashes — not
eventsourcing's private JSON. Before sealing, ``state`` holds the pending entry (filing,
signature, seq); the recorder's sealer turns it into the final entry under the log's lock.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent

from ledger.crypto.suites import Profile
from ledger.errors import MalformedEntryError
from ledger.log.entries import Entry, parse_time
from ledger.measures.events import EntryEvent, event_class


class EntryMapper(Mapper[UUID]):
    """Maps :class:`EntryEvent` objects to and from stored entries, hashing what it reads."""

    def __init__(self, profile: Profile) -> None:
        super().__init__(transcoder=JSONTranscoder())
        self.profile = profile

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """Pending events become pending entries; sealed ones their entry bytes."""
        if not isinstance(domain_event, EntryEvent):
            raise TypeError(f"expected an EntryEvent, got {type(domain_event).__name__}")
        if domain_event.sealed:
            state = domain_event.entry().canonical()
        else:
            state = domain_event.pending().canonical()
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=type(domain_event).__name__,
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """Parse a stored entry, check it sits where it is stored, and hash its bytes."""
        stream, seq = stored_event.originator_id, stored_event.originator_version
        entry = Entry.parse(stored_event.state, stream=stream, seq=seq)
        return cast(DomainEventProtocol[UUID], self.event_from_entry(
            entry, stored_event.topic, self.profile.digest(stored_event.state).hex(),
            stream=cast(UUID, stream), seq=seq))

    @staticmethod
    def event_from_entry(entry: Entry, topic: str, entry_hash: str, *, stream: UUID,
                         seq: int) -> EntryEvent:
        """Build the domain event of a parsed entry, checking its stored position."""
        if entry.seq != seq or entry.filing.stream != (
                stream if isinstance(stream, UUID) else UUID(str(stream))):
            raise MalformedEntryError(
                f"entry says stream {entry.filing.stream} seq {entry.seq}, but is stored at"
                f" stream {stream} seq {seq}", stream=stream, seq=seq)
        if entry.filing.type != topic:
            raise MalformedEntryError(
                f"entry type {entry.filing.type} is stored under topic {topic}",
                stream=stream, seq=seq)
        cls: Any = event_class(topic)
        return cast(EntryEvent, cls(
            originator_id=entry.filing.stream,
            originator_version=entry.seq,
            timestamp=parse_time(entry.recorded_at),
            filing=entry.filing,
            signature=entry.signature,
            prev=entry.prev,
            recorded_at=entry.recorded_at,
            entry_hash=entry_hash,
        ))
