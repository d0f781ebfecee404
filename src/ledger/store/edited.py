"""A database edited beneath the ledger, where its driver reports it as an operational error.

SQLite keeps whatever bytes it is given in a TEXT cell; Python's driver refuses to read a cell
that is not UTF-8 with ``sqlite3.OperationalError`` ("Could not decode to UTF-8"), the class it
also uses for a locked or missing database. Such a cell is an edit (the ledger writes only
text, and PostgreSQL would hold nothing else), so it is an integrity failure to report, not an
outage to wait out.
"""

from __future__ import annotations

import sqlite3

from ledger.errors import StoredValueError

_UNDECODABLE = "Could not decode to UTF-8"
_DEPTH = 8
"""How many causes to follow (the library wraps the driver's error once or twice)."""


def edited_beneath(exc: BaseException) -> StoredValueError | None:
    """The :class:`StoredValueError` behind ``exc``, where it or an error it was raised from
    is SQLite's refusal of a TEXT cell that is not UTF-8; None for any other error."""
    found: BaseException | None = exc
    for _ in range(_DEPTH):
        if found is None:
            return None
        if isinstance(found, sqlite3.OperationalError) and str(found).startswith(_UNDECODABLE):
            return StoredValueError(f"a text cell is not UTF-8 ({found}): the database was"
                                    " edited beneath the ledger")
        found = found.__cause__ or found.__context__
    return None


__all__ = ["edited_beneath"]
