"""The library-wide projections of docs/design.md §4 at a date, each with its state hash.

Per-project views (library row, eligibility, obligations) live in :mod:`ledger.measures.views`,
which the offline bundle verifier also uses; this module adds the views over the whole library
state.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.crypto.suites import INTL, Profile
from ledger.log.canonical import JSONValue
from ledger.measures import rules
from ledger.measures.calendar import WorkingCalendar, default_calendar
from ledger.measures.views import eligibility_view, library_row, obligations_view, state_hash
from projections.state import LibraryState

__all__ = ["all_views", "library_view", "state_hash", "unit_standing_view"]


def unit_standing_view(state: LibraryState, unit: str) -> dict[str, JSONValue]:
    """Art. 22: whether a unit may build new, altered or expanded systems, and why not."""
    reasons = rules.unit_standing(unit, state.projects_of(unit))
    return {"unit": unit, "barred": bool(reasons), "reasons": [r.to_json() for r in reasons]}


def library_view(state: LibraryState, on: date,
                 calendar: WorkingCalendar | None = None) -> list[JSONValue]:
    """The whole project library at ``on``, ordered by project id."""
    calendar = calendar or default_calendar()
    return [library_row(facts, state.unit_of(facts), on, calendar)
            for _, facts in sorted(state.projects.items())]


def all_views(state: LibraryState, on: date, profile: Profile = INTL,
              calendar: WorkingCalendar | None = None) -> dict[str, Any]:
    """Every projection of the library at ``on`` with its state hash (the audit trail is per
    project: see :mod:`projections.trail`)."""
    calendar = calendar or default_calendar()
    projects = sorted(state.projects.items())
    views: dict[str, JSONValue] = {
        "library": library_view(state, on, calendar),
        "eligibility": {pid: eligibility_view(f, on, calendar) for pid, f in projects},
        "obligations": {pid: obligations_view(f, on, calendar) for pid, f in projects},
        "unit_standing": [unit_standing_view(state, unit) for unit in state.units()],
    }
    return {name: {"state": view, "state_hash": state_hash(view, profile)}
            for name, view in views.items()}
