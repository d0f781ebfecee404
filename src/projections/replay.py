"""Exact replay: any projection as known at any moment T, evaluated on any date D (docs/design.md
§4).

"As known at T" is exactly the log prefix of entries with ``recorded_at`` ≤ T, because the ledger
stamps ``recorded_at`` under the log's lock and it never decreases along the log (docs/design.md
§5). A
fact recorded after T therefore never changes a replay as known at T.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from ledger.app import Ledger
from ledger.errors import EntryHashMismatchError, ProjectNotFoundError
from ledger.log.canonical import JSONValue
from ledger.measures import rules, views
from ledger.measures.events import EntryEvent
from ledger.measures.facts import ProjectFacts, today_in_china
from ledger.measures.trail import TrailActor, trail_and_facts
from projections.state import LibraryState


@dataclass(frozen=True)
class ProjectReplay:
    """One project's projections as known at ``as_known_at``, evaluated on ``on``."""

    project_id: UUID
    as_known_at: str | None
    on: date
    entries: int
    calendar: str
    views: dict[str, Any]
    flags: list[JSONValue] = field(default_factory=list)
    """Every flag in full (rule, article, detail, quote_zh, since, caused_by); the ``project``
    view names them only. Not a view of its own: evidence bundles ship the views alone."""

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"project": str(self.project_id), "as_known_at": self.as_known_at,
                "on": self.on.isoformat(), "entries": self.entries, "calendar": self.calendar,
                "views": self.views, "flags": self.flags}


def actors_as_known_at(ledger: Ledger, as_known_at: str | None) -> dict[str, TrailActor]:
    """Registered actors (role, unit) as known at T."""
    actors: dict[str, TrailActor] = {}
    try:
        registry_events = ledger.events_of(ledger.identity.registry_stream,
                                           as_known_at=as_known_at)
    except ProjectNotFoundError:
        return actors
    for event in registry_events:
        if event.filing.type == "ActorRegistered":
            payload = event.filing.payload
            actors[payload["actor"]] = TrailActor(payload["role"], payload.get("unit"))
    return actors


def replay_project(ledger: Ledger, project_id: UUID, *, as_known_at: str | None = None,
                   on: date | None = None) -> ProjectReplay:
    """Rebuild one project's projections from its verified stream, as known at T, on D."""
    events = ledger.events_of(project_id, as_known_at=as_known_at)
    return replay_events(ledger, project_id, events, as_known_at=as_known_at, on=on)[0]


def replay_events(ledger: Ledger, project_id: UUID, events: Sequence[EntryEvent], *,
                  as_known_at: str | None = None,
                  on: date | None = None) -> tuple[ProjectReplay, ProjectFacts]:
    """:func:`replay_project` over the stream's events as known at T, already read and
    verified (``Ledger.events_of``), and the facts it folded from them: a caller that needs
    the events too (the project page) reads them once."""
    on = on or today_in_china(ledger.clock())
    actors = actors_as_known_at(ledger, as_known_at)
    rows, facts = trail_and_facts(events, actors)  # one fold gives the trail and the facts
    opener = actors.get(facts.opened_by)
    unit = opener.unit if opener else None
    profile = ledger.identity.profile
    calendar = ledger.calendar
    named: dict[str, JSONValue] = {
        "project": views.library_row(facts, unit, on, calendar),
        "eligibility": views.eligibility_view(facts, on, calendar),
        "obligations": views.obligations_view(facts, on, calendar),
        "trail": rows,
    }
    return ProjectReplay(project_id, as_known_at, on, len(events), calendar.digest, {
        name: {"state": view, "state_hash": views.state_hash(view, profile)}
        for name, view in named.items()},
        [f.to_json() for f in rules.flags(facts, calendar)]), facts


def replay_library(ledger: Ledger, *, as_known_at: str | None = None) -> LibraryState:
    """Fold the whole log prefix known at T into a library state (from the stored entries)."""
    state = LibraryState(str(ledger.identity.registry_stream))
    profile = ledger.identity.profile
    for leaf, stored in ledger.log.iter_log():
        if as_known_at is not None and leaf.recorded_at > as_known_at:
            break  # recorded_at never decreases along the log: nothing later is known at T
        if stored is None or profile.digest(stored.state) != leaf.entry_hash:
            raise EntryHashMismatchError("the entry does not match its log leaf (run `ledger"
                                         " verify`)", leaf_index=leaf.leaf_index)
        state.apply_json(json.loads(stored.state), leaf.entry_hash.hex())
    return state
