"""The persisted read model: project facts, actors and the position, in one transaction.

Each backend's view is an eventsourcing tracking recorder (``SQLiteTrackingRecorder`` /
``PostgresTrackingRecorder``), so the read model and the notification id it reflects commit
together, and a replay from zero is idempotent (docs/design.md §4; STYLE: projections).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from eventsourcing.persistence import Tracking

from ledger.measures.facts import ProjectFacts
from projections.state import ActorUnit, LogRow


@dataclass(frozen=True)
class StoredLibrary:
    """What a view holds: facts rows, actors, counters and the tracked position."""

    projects: list[dict[str, object]]
    actors: dict[str, ActorUnit]
    entries: int
    last_recorded_at: str
    position: int | None


class FactsView(Protocol):
    """The read model store of the library projection."""

    def create_table(self) -> None:
        """Create the read-model tables (with ``ledger init``)."""
        ...

    def load(self, application_name: str) -> StoredLibrary:
        """Everything persisted, and the notification id it reflects."""
        ...

    def save(self, projects: Mapping[str, ProjectFacts], actors: Mapping[str, ActorUnit],
             entries: int, last_recorded_at: str, tracking: Tracking) -> None:
        """Upsert changed rows and record ``tracking``, in one transaction."""
        ...

    def reset(self, application_name: str) -> None:
        """Forget everything (before a rebuild from zero)."""
        ...

    def log_pages(self, events_table: str, batch: int) -> Iterator[Sequence[LogRow]]:
        """Every log leaf joined with its stored entry, in leaf order, ``batch`` rows a page.

        The same join as ``LogStore.iter_log`` (the ledger's ``log_leaves`` and its events
        table ``events_table``, in the same database), returning only what a rebuild needs.
        """
        ...

    def max_tracking_id(self, application_name: str) -> int | None:
        """The last notification id processed."""
        ...
