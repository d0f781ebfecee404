"""What a database outage looks like to the API: the errors that mean "the database is down,
restarting, unreachable or out of connections", whichever layer noticed (the event store, the
driver, the pool). :mod:`api.problems` answers them with 503 and ``Retry-After``; the writer
process sends them back as :class:`~ledger.errors.DatabaseUnavailableError`."""

from __future__ import annotations

import sqlite3

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError

from ledger.errors import DatabaseUnavailableError
from ledger.store.edited import edited_beneath

DATABASE_ERRORS: tuple[type[Exception], ...] = (
    StoreOperationalError, StoreInterfaceError, psycopg.OperationalError,
    psycopg.InterfaceError, sqlite3.OperationalError, DatabaseUnavailableError)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is unavailable (rather than a bug, a refusal or a
    cell edited beneath the ledger)."""
    return isinstance(exc, DATABASE_ERRORS) and edited_beneath(exc) is None


__all__ = ["DATABASE_ERRORS", "is_outage"]
