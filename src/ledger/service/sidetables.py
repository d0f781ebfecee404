"""Small tables beside the log for reminders and calendar feeds, on SQLite and PostgreSQL.

They hold operational state, not facts: which reminder went out through which channel (so none
goes out twice), each unit's reminder channels, and the secrets of calendar feeds. Nothing here
is signed or chained; losing them loses no entry. They live in the ledger's own database (in
the same schema as the log on PostgreSQL) and are created on first use, so no migration step is
needed. Each call opens its own short connection: reminders and feeds are a few statements an
hour, not the write path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ledger.errors import ConfigurationError

_TABLES = (
    "CREATE TABLE IF NOT EXISTS reminder_channels ("
    " unit TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, secret TEXT,"
    " added_at TEXT NOT NULL, PRIMARY KEY (unit, kind, target))",
    "CREATE TABLE IF NOT EXISTS reminder_log ("
    " obligation TEXT NOT NULL, stage TEXT NOT NULL, channel TEXT NOT NULL,"
    " project TEXT NOT NULL, unit TEXT NOT NULL, rule TEXT NOT NULL, due TEXT NOT NULL,"
    " status TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT, at TEXT NOT NULL,"
    " PRIMARY KEY (obligation, stage, channel))",
    "CREATE INDEX IF NOT EXISTS reminder_log_project ON reminder_log (project)",
    "CREATE TABLE IF NOT EXISTS feed_secrets ("
    " feed TEXT PRIMARY KEY, unit TEXT NOT NULL, secret_hash TEXT NOT NULL,"
    " created_at TEXT NOT NULL, revoked_at TEXT)",
)


class SideTables:
    """Runs statements on the side tables of the database at ``database_url``.

    Statements are written with ``?`` placeholders (SQLite's); on PostgreSQL they become
    ``%s``. ``ON CONFLICT … DO UPDATE`` is spelt the same on both.
    """

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._postgres = database_url.startswith(("postgresql://", "postgres://"))
        if not self._postgres and not database_url.startswith("sqlite:///"):
            raise ConfigurationError(f"unsupported database URL {database_url!r}")
        self._created = False

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._postgres:
            import psycopg  # noqa: PLC0415  (only a PostgreSQL ledger needs the driver)

            parts = urlsplit(self._url)
            schema = parse_qs(parts.query).get("schema")
            plain = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
            options = {"options": f"-c search_path={schema[0]}"} if schema else {}
            with psycopg.connect(plain, autocommit=False, **options) as pg:  # type: ignore[arg-type]
                yield pg
        else:
            path = self._url.removeprefix("sqlite:///")
            with closing(sqlite3.connect(path, timeout=30)) as lite, lite:
                yield lite

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self._postgres else statement

    def create(self) -> None:
        """Create the tables if they are missing (idempotent)."""
        if self._created:
            return
        with self._connection() as conn:
            for statement in _TABLES:
                conn.execute(statement)
        self._created = True

    def run(self, statement: str, params: Sequence[object] = ()) -> int:
        """Run one statement in its own transaction; the number of rows it changed."""
        self.create()
        with self._connection() as conn:
            cursor = conn.execute(self._sql(statement), tuple(params))
            return int(cursor.rowcount)

    def rows(self, statement: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """The rows a query returns."""
        self.create()
        with self._connection() as conn:
            return [tuple(row) for row in conn.execute(self._sql(statement),
                                                       tuple(params)).fetchall()]


__all__ = ["SideTables"]
