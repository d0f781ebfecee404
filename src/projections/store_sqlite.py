"""The library read model on SQLite (a tracking recorder with three more tables)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from ledger.errors import StoredValueError
from ledger.measures.facts import ProjectFacts
from projections.state import ActorUnit, LogRow
from projections.view import StoredLibrary

_TABLES = [
    "CREATE TABLE IF NOT EXISTS projection_projects ("
    " project_id TEXT PRIMARY KEY, facts TEXT NOT NULL, position INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS projection_actors ("
    " actor TEXT PRIMARY KEY, role TEXT NOT NULL, unit TEXT)",
    "CREATE TABLE IF NOT EXISTS projection_meta ("
    " name TEXT PRIMARY KEY, entries INTEGER NOT NULL, last_recorded_at TEXT NOT NULL)",
]


def _facts(project: object, text: object) -> dict[str, object]:
    """A stored facts row as JSON; StoredValueError naming the project if it is not (SQLite
    keeps any text, where PostgreSQL's ``jsonb`` would have refused it)."""
    try:
        value = json.loads(text) if isinstance(text, str | bytes) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise StoredValueError(f"the read model's facts of project {project} are not a JSON"
                               " object (edited in the database?): run `ledger rebuild`")
    return value


class SQLiteFactsView(SQLiteTrackingRecorder):
    """:class:`projections.view.FactsView` on SQLite."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        """The library's tracking table plus ours."""
        return [*super().construct_create_table_statements(), *_TABLES]

    def load(self, application_name: str) -> StoredLibrary:
        """Everything persisted."""
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT project_id, facts FROM projection_projects ORDER BY project_id")
            projects = [_facts(project, facts) for project, facts in c.fetchall()]
            c.execute("SELECT actor, role, unit FROM projection_actors")
            actors = {row[0]: ActorUnit(row[1], row[2]) for row in c.fetchall()}
            c.execute("SELECT entries, last_recorded_at FROM projection_meta WHERE name = ?",
                      (application_name,))
            meta = c.fetchone()
        return StoredLibrary(projects, actors, meta[0] if meta else 0, meta[1] if meta else "",
                             self.max_tracking_id(application_name))

    def save(self, projects: Mapping[str, ProjectFacts], actors: Mapping[str, ActorUnit],
             entries: int, last_recorded_at: str, tracking: Tracking) -> None:
        """Upsert and track in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                "INSERT INTO projection_projects VALUES (?, ?, ?) ON CONFLICT (project_id)"
                " DO UPDATE SET facts = excluded.facts, position = excluded.position",
                [(pid, f.to_stored_json(), tracking.notification_id)
                 for pid, f in projects.items()])
            c.executemany(
                "INSERT INTO projection_actors VALUES (?, ?, ?) ON CONFLICT (actor)"
                " DO UPDATE SET role = excluded.role, unit = excluded.unit",
                [(actor, a.role, a.unit) for actor, a in actors.items()])
            c.execute("INSERT INTO projection_meta VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
                      " SET entries = excluded.entries,"
                      " last_recorded_at = excluded.last_recorded_at",
                      (tracking.application_name, entries, last_recorded_at))
            self._insert_tracking(c, tracking)

    def reset(self, application_name: str) -> None:
        """Forget everything."""
        with self.datastore.transaction(commit=True) as c:
            for table in ("projection_projects", "projection_actors", "projection_meta"):
                c.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))

    def log_pages(self, events_table: str, batch: int) -> Iterator[Sequence[LogRow]]:
        """Every leaf with its entry bytes, in leaf order (see ``FactsView.log_pages``)."""
        sql = ("SELECT l.leaf_index, l.entry_hash, l.notification_id, e.state"  # noqa: S608
               f" FROM log_leaves AS l LEFT JOIN {events_table} AS e"
               " ON e.originator_id = l.originator_id"
               " AND e.originator_version = l.originator_version"
               " WHERE l.leaf_index >= ? AND l.leaf_index < ? ORDER BY l.leaf_index")
        position = 0
        while True:
            with self.datastore.transaction(commit=False) as c:
                c.execute(sql, (position, position + batch))
                rows = c.fetchall()
            if not rows:
                return
            yield rows
            position += batch
