"""Domain events: one eventsourcing event class per catalogue event type, each carrying its entry.

Every event *is* a ledger entry: the signed filing, its signature, and — once the log has sealed
it — ``prev``, ``recorded_at`` and the entry hash. Applying a sealed event to its aggregate checks
the chain link, so loading a stream verifies it at hash cost (docs/design.md §5; issue: verified
reads).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, cast

from eventsourcing.domain import AggregateEvent

from ledger.errors import ChainBrokenError, UnknownEventTypeError
from ledger.log.entries import Entry, Filing, PendingEntry
from ledger.measures.catalogue import CATALOGUE, EventSpec


class EntryAggregate(Protocol):
    """What an aggregate built from entries offers its events."""

    head_hash: str

    def on_entry(self, event: EntryEvent) -> None:
        """Evolve state by one entry (chain already checked)."""
        ...


# Which aggregate class a stream of each kind ("project", "registry") folds into. The aggregates
# module registers its classes when imported, so this module need not import it (the aggregates
# import the events, not the other way round).
_AGGREGATES: dict[str, type[Any]] = {}


def register_aggregate(stream_kind: str, cls: type[Any]) -> None:
    """Make streams of ``stream_kind`` (an :attr:`EventSpec.stream`) fold into ``cls``."""
    _AGGREGATES[stream_kind] = cls


def _aggregate_class(spec: EventSpec) -> type[Any]:
    try:
        return _AGGREGATES[spec.stream]
    except KeyError:
        raise LookupError(f"no aggregate class for {spec.stream} streams: import"
                          " ledger.measures.aggregates first") from None


class EntryEvent(AggregateEvent):
    """Base of all ledger events; a frozen dataclass (eventsourcing's metaclass)."""

    filing: Filing
    signature: str
    prev: str | None
    recorded_at: str | None
    entry_hash: str | None

    spec: ClassVar[EventSpec]

    @property
    def sealed(self) -> bool:
        """True once the log has stamped and linked this entry."""
        return self.entry_hash is not None

    @property
    def payload(self) -> dict[str, Any]:
        """The filing's payload (plain JSON)."""
        return dict(self.filing.payload)

    def entry(self) -> Entry:
        """The sealed docs/design.md §5 entry."""
        assert self.prev is not None
        assert self.recorded_at is not None
        return Entry(self.filing, self.signature, self.originator_version, self.prev,
                     self.recorded_at)

    def pending(self) -> PendingEntry:
        """The entry before sealing (what the recorder's sealer receives)."""
        return PendingEntry(self.filing, self.signature, self.originator_version)

    def mutate(self, aggregate: Any) -> Any:
        """Create the stream's aggregate from seq 1, or evolve it; checks the chain."""
        if aggregate is None:
            if self.originator_version != 1:
                raise ChainBrokenError("the stream does not start at seq 1",
                                       stream=self.originator_id, seq=self.originator_version)
            cls: Any = _aggregate_class(self.spec)
            aggregate = cls.__new__(cls)
            aggregate.__base_init__(self.originator_id, self.originator_version, self.timestamp)
            aggregate.__init__()
            self.apply(aggregate)
            return aggregate
        if self.originator_version != aggregate.version + 1:
            raise ChainBrokenError(
                f"seq {self.originator_version} follows seq {aggregate.version}"
                " (entries missing or reordered)",
                stream=self.originator_id, seq=self.originator_version)
        return super().mutate(aggregate)

    def apply(self, aggregate: Any) -> None:
        """Check ``seq``/``prev`` against the aggregate's head, then let it evolve."""
        target = cast(EntryAggregate, aggregate)
        if self.sealed:
            expected = target.head_hash
            if self.prev != expected:
                raise ChainBrokenError(
                    f"prev is {self.prev}, but the entry before it hashes to {expected}",
                    stream=self.originator_id, seq=self.originator_version)
        target.on_entry(self)
        if self.entry_hash is not None:
            target.head_hash = self.entry_hash


def _define(name: str, spec: EventSpec) -> type[EntryEvent]:
    namespace = {"__module__": __name__, "__qualname__": name, "spec": spec}
    return cast(type[EntryEvent], type(name, (EntryEvent,), namespace))


EVENT_CLASSES: dict[str, type[EntryEvent]] = {
    name: _define(name, spec) for name, spec in CATALOGUE.items()
}
globals().update(EVENT_CLASSES)


def event_class(event_type: str) -> type[EntryEvent]:
    """The event class of a catalogue type, or :class:`UnknownEventTypeError`."""
    try:
        return EVENT_CLASSES[event_type]
    except KeyError:
        raise UnknownEventTypeError(event_type) from None
