"""The library read model on PostgreSQL (a tracking recorder with three more tables)."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ledger.measures.facts import ProjectFacts
from projections.state import ActorUnit, LogRow
from projections.view import StoredLibrary

_T = TypeVar("_T")

_TABLES = (
    "CREATE TABLE IF NOT EXISTS {schema}.projection_projects ("
    " project_id text PRIMARY KEY, facts jsonb NOT NULL, position bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {schema}.projection_actors ("
    " actor text PRIMARY KEY, role text NOT NULL, unit text)",
    "CREATE TABLE IF NOT EXISTS {schema}.projection_meta ("
    " name text PRIMARY KEY, entries bigint NOT NULL, last_recorded_at text NOT NULL)",
)


def _json_object(projects: Mapping[str, ProjectFacts]) -> str:
    """``{"<project id>": <facts>, ...}`` as JSON text, without re-encoding the facts."""
    return "{" + ",".join(f"{json.dumps(pid)}:{facts.to_stored_json()}"
                          for pid, facts in projects.items()) + "}"


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
                # One JSON object {project id: facts} as a single text parameter, split by the
                # server: a text[]/jsonb[] array parameter is escaped element by element in
                # Python (psycopg quotes every '"' of every facts text with a regex), which took
                # longer than the fold itself for a 10,000-project rebuild. jsonb_each yields
                # the keys in one fixed order, so concurrent upserts lock rows in the same order.
                curs.execute(self._sql(
                    "INSERT INTO {schema}.projection_projects (project_id, facts, position)"
                    " SELECT key, value, %s FROM jsonb_each(%s::jsonb)"
                    " ON CONFLICT (project_id) DO UPDATE SET facts = excluded.facts,"
                    " position = excluded.position"),
                    (tracking.notification_id, _json_object(projects)))
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

    def log_pages(self, events_table: str, batch: int) -> Iterator[Sequence[LogRow]]:
        """Every leaf with its entry bytes, in leaf order (see ``FactsView.log_pages``).

        A thread reads the next pages while the caller folds this one: the server's work and
        psycopg's wait (which releases the GIL) overlap the fold instead of adding to it.
        """
        return read_ahead(self._log_pages(events_table, batch))

    def _log_pages(self, events_table: str, batch: int) -> Iterator[list[LogRow]]:
        # Binary results with plain tuple rows: ``bytea`` in text format is hex, twice the bytes
        # to send and decode, and dict rows cost more than the rest of the read.
        sql = SQL("SELECT l.leaf_index, l.entry_hash, l.notification_id, e.state"
                  " FROM {schema}.log_leaves AS l LEFT JOIN {schema}.{events} AS e"
                  " ON e.originator_id = l.originator_id"
                  " AND e.originator_version = l.originator_version"
                  " WHERE l.leaf_index >= %s AND l.leaf_index < %s ORDER BY l.leaf_index").format(
            schema=Identifier(self.datastore.schema), events=Identifier(events_table))
        position = 0
        while True:
            with self.datastore.get_connection() as conn, conn.cursor(
                    binary=True, row_factory=tuple_row) as curs:
                curs.execute(sql, (position, position + batch), prepare=True)
                rows = cast(list[LogRow], curs.fetchall())
            if not rows:
                return
            yield rows
            position += batch


class _Failed:
    """What the read-ahead thread hands over when reading raised."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def read_ahead(pages: Iterator[_T], depth: int = 2) -> Generator[_T, None, None]:
    """Yield ``pages`` in order while a thread fetches up to ``depth`` pages ahead.

    An error while reading is raised here, at the page it would have produced. If the caller
    stops early (an entry failed its hash check), the thread is told to stop and is joined.
    """
    box: queue.Queue[object] = queue.Queue(maxsize=depth)
    cancelled = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                box.put(page)
                if cancelled.is_set():
                    return
            box.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            box.put(_Failed(exc))

    worker = threading.Thread(target=produce, name="projection-read-ahead", daemon=True)
    worker.start()
    try:
        while (item := box.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield cast(_T, item)
    finally:
        cancelled.set()
        while worker.is_alive():  # a producer blocked on a full queue needs room to see that
            with contextlib.suppress(queue.Empty):
                box.get(timeout=0.05)
        worker.join()
