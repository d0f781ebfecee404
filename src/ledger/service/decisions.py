"""Deciding authenticated filings on their streams' states: payload, documents, rules.

A group commit decides its filings one after another; a stream's later filings in the batch are
decided on the state after its earlier ones (:class:`Batch`), never on the cached state, which
stays as it is until the append has sealed the entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from ledger.errors import (
    ConflictError,
    DuplicateNonceError,
    FutureDateError,
    KeyNotValidError,
    ProjectNotFoundError,
    ValidationFailedError,
)
from ledger.log.store import LogStore
from ledger.measures import rules
from ledger.measures.aggregates import KeyRegistry, Project
from ledger.measures.catalogue import future_facts, payload_json, spec_for, validate_payload
from ledger.measures.events import EntryEvent, event_class
from ledger.measures.facts import ProjectFacts
from ledger.service.cache import AggregateCache
from ledger.service.calendar import CalendarBook
from ledger.service.custody import KeyCustody
from ledger.service.documents import DocumentBook
from ledger.service.submission import SignedFiling

_NEW: Any = object()


@dataclass
class Batch:
    """One group commit's decisions: each stream's state before the batch and after the
    filings decided so far, all on one today (Beijing) read from the ledger clock."""

    registry: KeyRegistry
    fresh: bool
    today: date | None = None  # None: read the ledger clock when deciding
    left: Counter[UUID] = field(default_factory=Counter)  # filings not yet decided, by stream
    bases: dict[UUID, Project | KeyRegistry | None] = field(default_factory=dict)
    decided: dict[UUID, Any] = field(default_factory=dict)
    stamp: datetime | None = None  # one decision time for the batch, as the seal gives one


class Decider:
    """Turns an authenticated filing into the pending event its stream's rules allow."""

    def __init__(self, *, cache: AggregateCache, custody: KeyCustody, calendar: CalendarBook,
                 documents: DocumentBook, log: LogStore,
                 clock: Callable[[], datetime]) -> None:
        self._cache = cache
        self._custody = custody
        self._calendar = calendar
        self._documents = documents
        self._log = log
        self._clock = clock

    def decide(self, signed: SignedFiling, registry: KeyRegistry, batch: Batch) -> EntryEvent:
        """Decide an authenticated filing on its stream's state: payload, dates of fact (none
        after today in Beijing), documents, rules."""
        filing = signed.filing
        in_batch = filing.stream in batch.decided
        batch.left[filing.stream] -= 1
        # The batch's pending entries share one time, as its sealed entries share one
        # ``recorded_at``: the fold ties a history attestation to the entries of its own commit.
        now = self._clock()  # read once per filing, as ever (a stepping test clock counts)
        stamp = batch.stamp = batch.stamp or now
        spec = spec_for(filing.type)
        model = signed.payload_model
        if model is None or type(model) is not spec.payload or (
                payload_json(model) != filing.payload):  # a third of a validation's cost
            model = validate_payload(filing.type, filing.payload)
        today = batch.today or self._calendar.today()
        if spec.stream == "project" and (future := future_facts(model, filing.effective, today)):
            raise FutureDateError(filing.type, future, today.isoformat())
        self._documents.check_cited(filing.type, model)
        aggregate = batch.decided.get(filing.stream)
        if aggregate is None:
            aggregate = self._aggregate_for_write(filing.stream, spec.opens_project, batch)
        if isinstance(aggregate, KeyRegistry) or spec.stream == "registry":
            current = (aggregate if isinstance(aggregate, KeyRegistry)
                       else self._cache.empty_registry())
            check_registry_filing(current, filing.type, filing.payload)
        elif isinstance(aggregate, Project):
            rules.check_unit_scope(aggregate.facts, filing, registry.keys[filing.key], registry)
            rules.check_filing(aggregate.facts, filing, today, self._calendar.current)
            rules.check_attestation(
                aggregate.facts, filing, recorded=aggregate.nonces, in_batch=in_batch,
                opened_here=filing.stream in batch.bases and batch.bases[filing.stream] is None,
                last=not batch.left[filing.stream])
        else:  # a new project: the opener's unit must be in good standing (Art. 22)
            unit = registry.keys[filing.key].unit
            rules.check_application(filing.payload, unit, self.unit_standing(unit, registry))
        if str(filing.nonce) in getattr(aggregate, "nonces", ()):
            raise DuplicateNonceError(str(filing.nonce))
        cls: Any = event_class(filing.type)
        fields = {"filing": filing, "signature": signed.signature, "prev": None,
                  "recorded_at": None, "entry_hash": None}
        if not batch.left[filing.stream]:
            # The stream's last filing in this batch: nothing later is decided on the state
            # after it, so it is not folded here (the append folds the sealed entry into the
            # cache once).
            version = 1 if aggregate is _NEW else aggregate.version + 1
            return cast(EntryEvent, cls(originator_id=filing.stream, originator_version=version,
                                        timestamp=stamp, **fields))
        if aggregate is _NEW:
            event = cls(originator_id=filing.stream, originator_version=1,
                        timestamp=stamp, **fields)
            aggregate = event.mutate(None)
            aggregate.pending_events.append(event)
        else:
            if aggregate is batch.bases.get(filing.stream):  # the cached state stays as it is
                aggregate = cast(Project | KeyRegistry, aggregate).fork()
            aggregate.trigger_event(cls, timestamp=stamp, **fields)
            event = aggregate.pending_events[-1]
        batch.decided[filing.stream] = aggregate
        return cast(EntryEvent, event)

    def _aggregate_for_write(self, stream: UUID, opens: bool, batch: Batch) -> Any:
        """The stream's state before this batch (recorded in ``batch.bases``), or ``_NEW``."""
        registry_stream = self._custody.identity.registry_stream
        if stream == registry_stream:
            base: Project | KeyRegistry | None = (
                batch.registry if batch.registry.version else None)
        elif opens and not batch.fresh:
            # A new project's id is not cached; that it is unused is checked under the lock
            # (a conflict there is decided again on a fresh read, which finds the project).
            base = self._cache.cached(stream)
        else:
            base = self._cache.current(stream, fresh=batch.fresh)
        batch.bases[stream] = base
        if base is None:
            if opens or stream == registry_stream:
                return _NEW
            raise ProjectNotFoundError(stream)
        if opens:
            raise ConflictError(stream, 1, base.version)
        return base

    def unit_standing(self, unit: str | None,
                      registry: KeyRegistry | None = None) -> tuple[rules.Reason, ...]:
        """Why a unit is barred from new/altered/expanded projects now (Art. 22), from the log.

        Only projects with a non-compliance finding can bar a unit; the recorder finds those
        streams by event type (indexed), and their aggregates are read from the cache.
        """
        if unit is None:
            return ()
        registry = registry or self._cache.registry()
        streams = self._log.streams_with_topics(rules.FINDING_EVENTS)
        facts: list[ProjectFacts] = []
        for stream in streams:
            project = self._cache.current(stream, fresh=True)
            if isinstance(project, Project) and rules.unit_of_opener(
                project.facts, registry) == unit:
                facts.append(project.facts)
        return rules.unit_standing(unit, facts)


def check_registry_filing(registry: KeyRegistry, event_type: str,
                          payload: Mapping[str, Any]) -> None:
    """Registry invariants: actors once, keys once and for a registered actor, revoke known."""
    if event_type == "ActorRegistered":
        registry.require_new_actor(str(payload["actor"]))
    elif event_type == "KeyRegistered":
        if payload["key_id"] in registry.keys:
            raise ValidationFailedError(event_type, [("key_id", "already registered")])
        # Actors registered earlier in the same batch are already applied to ``registry``.
        if payload["actor"] not in registry.actors:
            raise ValidationFailedError(event_type, [("actor", "not a registered actor")])
    elif event_type == "KeyRevoked" and payload["key_id"] not in registry.keys:
        raise KeyNotValidError(str(payload["key_id"]), "not in the key registry")


__all__ = ["Batch", "Decider", "check_registry_filing"]
