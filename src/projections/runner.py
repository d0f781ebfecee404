"""Keeping the library read model up to date: eventsourcing's ``Projection`` over a tracking view.

:class:`LibraryProjection` folds events into the in-memory :class:`LibraryState` and persists the
changed rows with the tracked notification id in one transaction. :class:`Library` feeds it: it
catches up by paging the application's notifications (a polling runner, which is what SQLite
needs: its recorder cannot ``subscribe``), and on PostgreSQL ``run_forever`` waits on the
recorder's LISTEN/NOTIFY subscription between catch-ups. Several processes may run it: the
single-row tracking table refuses a position already recorded, and the loser reloads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, cast

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.projection import Projection

from ledger.app import Ledger
from ledger.log.entries import Entry
from ledger.measures.events import EntryEvent
from projections.check import ReadModelReport, compare_read_model
from projections.state import ActorUnit, LibraryState, load_state
from projections.view import FactsView

_PAGE = 2000


class LibraryProjection(Projection[Any]):
    """The library projection: facts of every project, actors, and the position."""

    name = "library"

    def __init__(self, view: FactsView, registry_stream: str, *, load: bool = True) -> None:
        """``load``: start from what the view holds (False: from nothing, for a rebuild or a
        check, which must work where a stored row no longer reads)."""
        super().__init__(view)
        self.registry_stream = registry_stream
        self.state = LibraryState(registry_stream)
        self.position: int | None = None
        if load:
            self.reload()

    @property
    def facts_view(self) -> FactsView:
        """The persisted read model."""
        return cast(FactsView, self.view)

    def reload(self) -> None:
        """Replace the in-memory state by what the view holds."""
        stored = self.facts_view.load(self.name)
        self.state = load_state(self.registry_stream, stored.projects, stored.actors,
                                stored.entries, stored.last_recorded_at)
        self.position = stored.position

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """eventsourcing's entry point: one event, one transaction."""
        if not isinstance(domain_event, EntryEvent) or domain_event.entry_hash is None:
            raise TypeError(f"expected a sealed EntryEvent, got {type(domain_event).__name__}")
        self.process_batch([(domain_event.entry(), domain_event.entry_hash,
                             tracking.notification_id)])

    def process_batch(self, items: Sequence[tuple[Entry, str, int]]) -> None:
        """Fold a batch of entries in log order and persist it with its last position."""
        if not items:
            return
        changed: dict[str, Any] = {}
        actors: dict[str, ActorUnit] = {}
        try:
            for entry, entry_hash, _ in items:
                project = self.state.apply(entry, entry_hash)
                if project is not None:
                    changed[project] = self.state.projects[project]
                elif entry.filing.type == "ActorRegistered":
                    actor = entry.filing.payload["actor"]
                    actors[actor] = self.state.actors[actor]
            last = items[-1][2]
            self.facts_view.save(changed, actors, self.state.entries,
                                 self.state.last_recorded_at, Tracking(self.name, last))
        except IntegrityError:
            self.reload()  # another process recorded this position first: take its state
            return
        self.position = last


class Library:
    """The project library read model of one ledger: catch up, rebuild, read."""

    def __init__(self, ledger: Ledger, *, load: bool = True) -> None:
        """The library of ``ledger``; ``load``: read the stored read model now (False for
        :meth:`rebuild` and :meth:`check` alone)."""
        self.ledger = ledger
        datastore = cast(Any, ledger.factory).datastore
        self.view: FactsView
        if ledger.env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
            from projections.store_postgres import PostgresFactsView  # noqa: PLC0415

            self.view = PostgresFactsView(datastore)
        else:
            from projections.store_sqlite import SQLiteFactsView  # noqa: PLC0415

            self.view = SQLiteFactsView(datastore)
        self.view.create_table()
        self.projection = LibraryProjection(self.view, str(ledger.identity.registry_stream),
                                            load=load)
        self._lock = threading.Lock()

    @property
    def state(self) -> LibraryState:
        """The library as of the last catch-up."""
        return self.projection.state

    def _items(self, notifications: Sequence[Any]) -> list[tuple[Entry, str, int]]:
        profile = self.ledger.identity.profile
        items = []
        for n in notifications:
            items.append((Entry.parse(n.state, stream=n.originator_id, seq=n.originator_version),
                          profile.digest(n.state).hex(), n.id))
        return items

    def catch_up(self) -> int:
        """Process every notification after the tracked position; return how many."""
        done = 0
        with self._lock:
            while True:
                start = (self.projection.position or 0) + 1
                page = self.ledger.recorder.select_notifications(start=start, limit=_PAGE)
                if not page:
                    return done
                self.projection.process_batch(self._items(page))
                done += len(page)

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> LibraryState:
        """Forget the read model and fold the whole log again, verifying leaf hashes."""
        with self._lock:
            name = self.projection.name
            self.view.reset(name)
            state = LibraryState(str(self.ledger.identity.registry_stream))
            digest = self.ledger.identity.profile.digest
            total = self.ledger.log.tree_size()
            # The view reads the log's tables itself (plain rows, no LeafRow/StoredEvent per
            # entry); it needs the name of the events table eventsourcing's recorder writes.
            events_table = cast(Any, self.ledger.recorder).events_table_name
            last_id = 0
            for page in self.view.log_pages(events_table, _PAGE):
                last_id = max(last_id, state.apply_log(page, digest))
                if progress is not None:
                    progress(state.entries, total)
            if state.entries:
                self.view.save(state.projects, state.actors, state.entries,
                               state.last_recorded_at, Tracking(name, last_id))
            self.projection.state = state
            self.projection.position = last_id or None
            if progress is not None:
                progress(state.entries, total)
            return state

    def check(self) -> ReadModelReport:
        """Fold the log again, in memory, up to the position the stored read model reflects,
        and compare the two (``ledger rebuild --check``); nothing is written. A stored row
        that does not read at all raises StoredValueError (as it does when this is made)."""
        with self._lock:
            stored = self.view.load(self.projection.name)
            position = stored.position or 0
            state = LibraryState(str(self.ledger.identity.registry_stream))
            digest = self.ledger.identity.profile.digest
            events_table = cast(Any, self.ledger.recorder).events_table_name
            for page in self.view.log_pages(events_table, _PAGE):
                # Entries the read model has not reached yet are not its to reflect (a
                # notification id of another type is apply_log's to name).
                state.apply_log([row for row in page
                                 if not (type(row[2]) is int and row[2] > position)], digest)
            differences = compare_read_model(stored, state)
            return ReadModelReport(stored.position, state.entries, len(state.projects),
                                   tuple(differences))

    def run_forever(self, stop: threading.Event, interval: float = 0.25) -> None:
        """Keep the read model current until ``stop`` is set."""
        self.catch_up()
        if self.ledger.env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
            subscription = self.ledger.recorder.subscribe(gt=self.projection.position)

            def stop_when_asked() -> None:
                stop.wait()
                subscription.stop()

            threading.Thread(target=stop_when_asked, daemon=True).start()
            with subscription:
                for _ in subscription:  # a commit happened: page through what is new
                    self.catch_up()
                    if stop.is_set():
                        break
            return
        while not stop.wait(interval):
            self.catch_up()
