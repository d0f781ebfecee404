"""Numbered schema migrations, and the schema version the database records (docs/deploy.md,
Upgrades).

The database records each migration applied, once, under its own ``meta`` key
(``schema_migration_N``: when it was applied); its schema version is the highest N recorded
without a gap (metadata is written once and never changed, so a version is never
overwritten). ``ledger migrate`` applies
every migration above it, in order, recording each as it completes; ``ledger init`` does the
same; ``ledger serve`` refuses a database whose version is not this release's
(:data:`SCHEMA_VERSION`), naming the command to run. A migration is a function of the store that
is safe to run again (each statement ``IF NOT EXISTS``, ``OR REPLACE`` or guarded by what it
finds), so a migration interrupted half-way is completed by running ``ledger migrate`` again.

Adding one: append a :class:`Migration` with the next number; never change or renumber one
that has shipped (a database records only the number).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.errors import ConfigurationError
from ledger.log.store import LogStore

KEY = "schema_migration_{}"


@dataclass(frozen=True)
class Migration:
    """One numbered step from version ``number - 1`` to ``number``."""

    number: int
    name: str
    apply: Callable[[LogStore], None]


def _baseline(log: LogStore) -> None:
    # The tables, indexes and server functions of this release as `ledger init` creates them:
    # every statement is idempotent, and the stream heads map is started (or converted to node
    # groups) where the database has none. Databases made before versions were recorded are
    # brought to version 1 by exactly this.
    log.create_table()


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables, indexes, server functions and the stream heads map of the first"
                 " versioned release", _baseline),
    # Idempotent like every statement of the baseline, which creates the new table.
    Migration(2, "a bearer token's own expiry, chosen when it is issued (api_token_expiry)",
              _baseline),
    Migration(3, "upload allowances shared by every server process (upload_allowances)",
              _baseline),
)

SCHEMA_VERSION = MIGRATIONS[-1].number
"""The schema version this release runs on."""


class SchemaOutdatedError(ConfigurationError):
    """Raised when the database's schema is not the version this release runs on."""

    def __init__(self, found: int, wanted: int) -> None:
        self.found = found
        self.wanted = wanted
        if found > wanted:
            fix = ("it was migrated by a newer release: run that release, or restore the backup"
                   " taken before the upgrade (docs/deploy.md, Rolling back)")
        else:
            fix = "run `ledger migrate` (back up the database first: docs/deploy.md, Upgrades)"
        recorded = f"version {found}" if found else "no recorded version"
        super().__init__(f"the database's schema is at {recorded}, this release runs on"
                         f" version {wanted}: {fix}")


def schema_version(log: LogStore) -> int:
    """The last migration the database records as applied (0: none recorded)."""
    found = 0
    while log.get_meta(KEY.format(found + 1)) is not None:
        found += 1
    return found


def pending(log: LogStore) -> list[Migration]:
    """The migrations above the database's version, in order."""
    current = schema_version(log)
    return [step for step in MIGRATIONS if step.number > current]


def migrate(log: LogStore, *, clock: Callable[[], datetime] | None = None,
            tables_created: bool = False) -> list[Migration]:
    """Apply every pending migration in order, recording each; return those applied.

    ``tables_created``: the caller has just run ``log.create_table()`` (``ledger init``
    does), which is migration 1, so it is recorded without being run twice. A database at a
    newer version than this release knows is refused (never "migrated down").
    """
    current = schema_version(log)
    if current > SCHEMA_VERSION:
        raise SchemaOutdatedError(current, SCHEMA_VERSION)
    now = clock or (lambda: datetime.now(UTC))
    applied = []
    for step in pending(log):
        if not (tables_created and step.apply is _baseline):
            step.apply(log)
        log.put_meta(KEY.format(step.number), now().isoformat(timespec="seconds"))
        applied.append(step)
    return applied


def require_current(log: LogStore) -> None:
    """Refuse (:class:`SchemaOutdatedError`) a database not at :data:`SCHEMA_VERSION`."""
    found = schema_version(log)
    if found != SCHEMA_VERSION:
        raise SchemaOutdatedError(found, SCHEMA_VERSION)
