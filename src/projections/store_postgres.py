"""The library read model on PostgreSQL (a tracking recorder with three more tables)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier

from ledger.facts import ProjectFacts
from projections.state import ActorUnit
from projections.view import StoredLibrary

_TABLES = (
    "CREATE TABLE IF NOT EXISTS {schema}.projection_projects ("
    " project_id text PRIMARY KEY, facts jsonb NOT NULL, position bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {schema}.projection_actors ("
    " actor text PRIMARY KEY, role text NOT NULL, unit text)",
    "CREATE TABLE IF NOT EXISTS {schema}.projection_meta ("
    " name text PRIMARY KEY, entries bigint NOT NULL, last_recorded_at text NOT NULL)",
)


class PostgresFactsView(PostgresTrackingRecorder):
    """:class:`projections.view.FactsView` on PostgreSQL."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, tracking_table_name="projection_tracking", **kwargs)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.extend(SQL(t).format(schema=schema) for t in _TABLES)

    def _sql(self, text: str) -> Composed:
        return SQL(text).format(schema=Identifier(self.datastore.schema),
                                tracking=Identifier(self.tracking_table_name))

    def load(self, application_name: str) -> StoredLibrary:
        """Everything persisted."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql("SELECT facts::text AS facts FROM {schema}.projection_projects"
                                   " ORDER BY project_id"))
            projects = [json.loads(row["facts"]) for row in curs.fetchall()]
            curs.execute(self._sql("SELECT actor, role, unit FROM {schema}.projection_actors"))
            actors = {r["actor"]: ActorUnit(r["role"], r["unit"]) for r in curs.fetchall()}
            curs.execute(self._sql("SELECT entries, last_recorded_at FROM"
                                   " {schema}.projection_meta WHERE name = %s"),
                         (application_name,))
            meta = curs.fetchone()
        return StoredLibrary(projects, actors, meta["entries"] if meta else 0,
                             meta["last_recorded_at"] if meta else "",
                             self.max_tracking_id(application_name))

    def save(self, projects: Mapping[str, ProjectFacts], actors: Mapping[str, ActorUnit],
             entries: int, last_recorded_at: str, tracking: Tracking) -> None:
        """Upsert and track in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            if projects:
                items = sorted(projects.items())
                curs.execute(self._sql(
                    "INSERT INTO {schema}.projection_projects (project_id, facts, position)"
                    " SELECT * FROM unnest(%s::text[], %s::jsonb[], %s::bigint[])"
                    " ON CONFLICT (project_id) DO UPDATE SET facts = excluded.facts,"
                    " position = excluded.position"),
                    ([pid for pid, _ in items],
                     [json.dumps(f.to_json(), ensure_ascii=False) for _, f in items],
                     [tracking.notification_id] * len(items)))
            if actors:
                rows = sorted(actors.items())
                curs.execute(self._sql(
                    "INSERT INTO {schema}.projection_actors (actor, role, unit)"
                    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])"
                    " ON CONFLICT (actor) DO UPDATE SET role = excluded.role,"
                    " unit = excluded.unit"),
                    ([a for a, _ in rows], [u.role for _, u in rows], [u.unit for _, u in rows]))
            curs.execute(self._sql(
                "INSERT INTO {schema}.projection_meta (name, entries, last_recorded_at)"
                " VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
                " entries = excluded.entries, last_recorded_at = excluded.last_recorded_at"),
                (tracking.application_name, entries, last_recorded_at))
            self._insert_tracking(curs, tracking)

    def reset(self, application_name: str) -> None:
        """Forget everything."""
        with self.datastore.transaction(commit=True) as curs:
            for table in ("projection_projects", "projection_actors", "projection_meta"):
                curs.execute(SQL("DELETE FROM {0}.{1}").format(
                    Identifier(self.datastore.schema), Identifier(table)))
            curs.execute(self._sql("DELETE FROM {schema}.{tracking}"
                                   " WHERE application_name = %s"), (application_name,))
