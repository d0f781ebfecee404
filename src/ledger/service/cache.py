"""The write side's cache of stream states: projects and the key registry, as this process
last appended or read them."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime
from typing import cast
from uuid import UUID

from eventsourcing.application import Repository
from eventsourcing.persistence import EventStore

from ledger.errors import ProjectNotFoundError
from ledger.measures.aggregates import ActorRecord, KeyRegistry, Project
from ledger.measures.events import EntryEvent
from ledger.service.custody import KeyCustody


class AggregateCache:
    """Stream states from eventsourcing's aggregate cache, fast-forwarded from the database."""

    def __init__(self, repository: Repository[UUID], events: EventStore[UUID],
                 custody: KeyCustody, clock: Callable[[], datetime]) -> None:
        self._repository = repository
        self._events = events
        self._custody = custody
        self._clock = clock
        self._lock = threading.Lock()

    def registry(self, *, fresh: bool = True) -> KeyRegistry:
        """The key registry, brought up to date unless not ``fresh`` (chain-checked)."""
        current = self.current(self._custody.identity.registry_stream, fresh=fresh)
        return current if isinstance(current, KeyRegistry) else self.empty_registry()

    def remembered_actor(self, actor_id: str) -> ActorRecord | None:
        """:meth:`actor_record` from the cached registry only (no database), or None."""
        cached = self.cached(self._custody.identity.registry_stream)
        return cached.actors.get(actor_id) if isinstance(cached, KeyRegistry) else None

    def actor_record(self, actor_id: str) -> ActorRecord:
        """A registered actor (role, unit). Actor records never change once registered, so
        the cached registry answers; only an actor it does not know yet costs a read."""
        known = self.registry(fresh=False).actors.get(actor_id)
        return known if known is not None else self.registry().actor(actor_id)

    def current_project(self, stream: UUID) -> Project:
        """The project as this process last appended or read it (no database read when
        cached): for access checks that depend only on facts that never change, such as
        the opener's unit. Decisions never rely on it alone (see :meth:`current`)."""
        current = self.current(stream, fresh=False)
        if not isinstance(current, Project):
            raise ProjectNotFoundError(stream)
        return current

    def current(self, stream: UUID, *, fresh: bool) -> Project | KeyRegistry | None:
        """A stream's aggregate from the cache, brought up to date from the database if
        ``fresh`` (or if it is not cached); None if the stream has no entries.

        Aggregates in the cache are never mutated — a newer state replaces them — so threads
        share them without copies. Appends put their result in the cache, so within one
        process the cache is current and the write path decides without reading. Another
        process's appends are caught under the log lock (the stream heads, ``expected_heads``),
        and those filings are decided again on a fresh read.
        """
        cached = self.cached(stream)
        if cached is not None and not fresh:
            return cached
        aggregate = cached
        for event in self._events.get(stream, gt=cached.version if cached else None):
            if aggregate is not None and aggregate is cached:
                aggregate = aggregate.fork()
            aggregate = cast(EntryEvent, event).mutate(aggregate)  # hashes and links checked
        if aggregate is not None and aggregate is not cached:
            self.remember(aggregate)
        return aggregate

    def cached(self, stream: UUID) -> Project | KeyRegistry | None:
        """A stream's state in the cache as it is (no database), or None."""
        cache = self._repository.cache
        if cache is None:
            return None
        try:
            return cast(Project | KeyRegistry, cache.get(stream))
        except KeyError:
            return None

    def remember(self, aggregate: Project | KeyRegistry) -> None:
        """Cache a newer state of a stream (never an older one: threads race to put)."""
        cache = self._repository.cache
        if cache is None:
            return
        with self._lock:
            cached = self.cached(aggregate.id)
            if cached is None or cached.version < aggregate.version:
                cache.put(aggregate.id, aggregate)

    def evict(self, stream: UUID) -> None:
        """Drop a stream's state, to be read afresh."""
        cache = self._repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(stream, evict=True)

    def empty_registry(self) -> KeyRegistry:
        """The key registry before its first entry."""
        empty = KeyRegistry.__new__(KeyRegistry)
        empty.__base_init__(self._custody.identity.registry_stream, 0, self._clock())
        empty.__init__()  # type: ignore[misc]
        return empty


__all__ = ["AggregateCache"]
