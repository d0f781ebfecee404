"""What the ``ledger`` CLI says when it cannot use its configuration or reach its database.

Every such error is one line that names the cause and the fix, and exits 2; ``ledger --debug``
shows the traceback as well. The database is probed with one direct connection bounded at
:data:`CONNECT_TIMEOUT` seconds before the ledger opens its pool, so a wrong
``LEDGER_DATABASE_URL`` is reported at once and for what it is (host unknown, port closed,
database missing, authentication failed) instead of as a pool that waited 30 s for a
connection. A read against a SQLite file that does not exist is refused before SQLite would
create an empty one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import typer
from rich.console import Console
from rich.markup import escape

from ledger.errors import ConfigurationError, LedgerError, LedgerNotInitialisedError

if TYPE_CHECKING:
    from ledger.app import Ledger
    from ledger.settings import Settings

CONNECT_TIMEOUT = 4.0
"""Seconds a connection attempt may take before the CLI gives up (a few: not eventsourcing's
30 s pool wait)."""

DATABASE_ENV = "LEDGER_DATABASE_URL"


class DatabaseUnreachableError(ConfigurationError):
    """Raised when the configured database cannot be reached or used; ``cause`` says why
    (``host``, ``port``, ``timeout``, ``database``, ``authentication``, ``file``, ``other``)."""

    def __init__(self, cause: str, message: str) -> None:
        self.cause = cause
        super().__init__(message)


class Flags:
    """Global options of the command line, set by its callback on every run."""

    debug = False


errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` (one line, as given) on stderr; the exit to raise."""
    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def describe(exc: BaseException) -> str | None:
    """One line for an error a user can fix; None for a fault of the program (a traceback)."""
    if isinstance(exc, LedgerNotInitialisedError):
        return str(exc).replace(
            "run `ledger init` first", f"point {DATABASE_ENV} at the ledger's database, or run"
                                       " `ledger init` to create a new, empty ledger there")
    if isinstance(exc, LedgerError):
        return str(exc)
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(exc, pydantic.ValidationError):
        return settings_problem(exc)
    if _is_database_error(exc):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "permission denied" in first.lower():
            return (f"the database refused: {first} (the role in {DATABASE_ENV} lacks a"
                    " privilege: see docs/deploy.md, PostgreSQL roles)")
        return f"database error: {first} ({DATABASE_ENV}; `ledger --debug …` for details)"
    return None


def _is_database_error(exc: BaseException) -> bool:
    for module, name in (("eventsourcing.persistence", "PersistenceError"),
                         ("psycopg", "Error"), ("sqlite3", "Error")):
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return True
    return False


def settings_problem(exc: object) -> str:
    """A pydantic validation error of the settings as one line naming the variables."""
    problems = []
    for error in exc.errors():  # type: ignore[attr-defined]
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        loc = error.get("loc") or ()
        name = "LEDGER_" + str(loc[0]).upper() if loc else ""
        problems.append(f"{name}: {message}" if name else message)
    return "invalid configuration: " + "; ".join(problems)


@contextmanager
def reported() -> Iterator[None]:
    """Errors a user can fix become one line and exit 2; with ``--debug``, the traceback."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:
        message = describe(exc)
        if message is None or Flags.debug:
            raise
        raise fail(message) from None


def load_settings() -> Settings:
    """The settings from the environment; a bad value is a :class:`ConfigurationError`."""
    from pydantic import ValidationError  # noqa: PLC0415 - the ledger's settings need it anyway

    from ledger.settings import Settings  # noqa: PLC0415

    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(settings_problem(exc)) from exc


@contextmanager
def open_ledger(*, initialised: bool = True) -> Iterator[Ledger]:
    """The configured ledger, its database probed first (:func:`check_database`); with
    ``initialised``, refused unless it holds a ledger. Errors are :func:`reported`."""
    with reported():
        settings = load_settings()
        check_database(settings.database_url, from_env=DATABASE_ENV in os.environ,
                       must_exist=initialised)
        from ledger.app import Ledger  # noqa: PLC0415 - `ledger --help` must stay fast

        ledger = Ledger(settings)
        try:
            if initialised:
                ledger.identity  # noqa: B018 - refuse early, naming `ledger init`
            yield ledger
        finally:
            ledger.close()


def redacted(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (URLs are printed in errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_database(url: str, *, from_env: bool, must_exist: bool,
                   timeout: float = CONNECT_TIMEOUT) -> None:
    """Refuse, with one line naming cause and fix, a database the ledger could not use.

    ``from_env`` tells whether ``LEDGER_DATABASE_URL`` was set (an unset one falls back to
    ``./var/ledger.db``, which outside the project's folder is the wrong place, not a ledger
    to create); ``must_exist`` is false for the commands that create a ledger.
    """
    if url.startswith("sqlite:///"):
        _check_sqlite(url, from_env=from_env, must_exist=must_exist)
    elif url.startswith(("postgresql://", "postgres://")):
        _check_postgres(url, timeout)
    # Anything else is refused by the ledger itself, naming the schemes it takes.


def _check_sqlite(url: str, *, from_env: bool, must_exist: bool) -> None:
    path = Path(url.removeprefix("sqlite:///"))
    if not must_exist:
        if not path.parent.is_dir():
            raise DatabaseUnreachableError(
                "file", f"the folder {path.parent} of {DATABASE_ENV}={url} does not exist:"
                        " create it or point the variable elsewhere")
        return
    if path.is_file():
        return
    if from_env:
        raise DatabaseUnreachableError(
            "file", f"no ledger database at {path} ({DATABASE_ENV}={url}): point"
                    f" {DATABASE_ENV} at the ledger's database, or run `ledger init` to create"
                    " a new, empty ledger there")
    raise DatabaseUnreachableError(
        "file", f"{DATABASE_ENV} is not set and there is no ledger at {path.resolve()}: set"
                f" {DATABASE_ENV} to your ledger's database (sqlite:///PATH or"
                " postgresql://…), or run the command from the project's folder")


def _check_postgres(url: str, timeout: float) -> None:
    import psycopg  # noqa: PLC0415 - only a PostgreSQL ledger needs the driver

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    user = unquote(parts.username or "postgres")
    dbname = parts.path.lstrip("/") or "postgres"
    try:
        psycopg.connect(host=host, port=port, user=user, dbname=dbname,
                        password=unquote(parts.password or "") or None,
                        connect_timeout=max(1, round(timeout))).close()
    except psycopg.Error as exc:
        raise _classified(str(exc), host=host, port=port, user=user, dbname=dbname,
                          url=redacted(url)) from exc


def check_append_privileges(url: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Refuse a PostgreSQL role that could not append: one that may neither lock the events
    table itself nor call the append's functions as their owner (docs/deploy.md, PostgreSQL
    roles: ``ledger init`` and ``ledger migrate`` replace those functions, which makes them
    run as the caller again until grants.sql has run)."""
    if not url.startswith(("postgresql://", "postgres://")):
        return
    import psycopg  # noqa: PLC0415

    parts = urlsplit(url)
    schema = (parse_qs(parts.query).get("schema") or ["public"])[0]
    events = f"{schema}.stored_events"
    with psycopg.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                         user=unquote(parts.username or "postgres"),
                         dbname=parts.path.lstrip("/") or "postgres",
                         password=unquote(parts.password or "") or None,
                         connect_timeout=max(1, round(timeout))) as conn:
        row = conn.execute(
            "SELECT has_table_privilege(%s, 'UPDATE') OR has_table_privilege(%s, 'DELETE')"
            " OR has_table_privilege(%s, 'TRUNCATE'),"
            " (SELECT count(*) FILTER (WHERE NOT p.prosecdef) FROM pg_proc AS p"
            "  JOIN pg_namespace AS n ON n.oid = p.pronamespace WHERE n.nspname = %s"
            "  AND p.proname IN ('ledger_lock_and_read', 'ledger_write_if'))",
            (events, events, events, schema)).fetchone()
    if row is None or row[0] or not row[1]:
        return  # a role that may lock the table itself (the owner), or definer functions
    raise DatabaseUnreachableError(
        "privileges", f"user {unquote(parts.username or 'postgres')!r} may only insert into"
                      " the ledger's tables, but the append's functions no longer run as their"
                      " owner (`ledger init` or `ledger migrate` replaced them): run"
                      " deploy/postgres/grants.sql as the owner (docs/deploy.md)")


def _classified(text: str, *, host: str, port: int, user: str, dbname: str,
                url: str) -> DatabaseUnreachableError:
    """The psycopg connection error ``text`` told apart by cause, with the fix for each."""
    lowered = text.lower()
    where = f"PostgreSQL at {host}:{port} ({DATABASE_ENV}={url})"
    if "resolve host" in lowered or "translate host name" in lowered:
        return DatabaseUnreachableError(
            "host", f"unknown host {host!r} in {DATABASE_ENV}={url}: check the host name")
    if "connection refused" in lowered:
        return DatabaseUnreachableError(
            "port", f"nothing accepts connections on {host}:{port} ({DATABASE_ENV}={url}):"
                    " start PostgreSQL or correct the port")
    if "timeout expired" in lowered or "timed out" in lowered:
        return DatabaseUnreachableError(
            "timeout", f"{where} did not answer within {CONNECT_TIMEOUT:g} s: check the host,"
                       " the port and the firewall")
    if "does not exist" in lowered and "database" in lowered:
        return DatabaseUnreachableError(
            "database", f"database {dbname!r} does not exist on {where}: create it (`createdb"
                        f" -h {host} -p {port} {dbname}`) or correct the name")
    if ("authentication" in lowered or "pg_hba.conf" in lowered
            or ("role" in lowered and "does not exist" in lowered)):
        return DatabaseUnreachableError(
            "authentication", f"PostgreSQL refused user {user!r} on {where}: check the user"
                              " and password in the URL (and pg_hba.conf)")
    first = text.strip().splitlines()[0] if text.strip() else type(text).__name__
    return DatabaseUnreachableError("other", f"cannot connect to {where}: {first}")
