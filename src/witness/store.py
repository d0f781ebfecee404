"""The witness's state: one SQLite file of its own (never the ledger's database).

Tables: ``witness`` (one row: the witness's name and vkey, binding the file to one key),
``log_keys`` (the pinned log vkeys, per origin), ``checkpoints`` (per origin, the latest
checkpoint cosigned: size, root, note body, the verified note with this witness's line, the
cosignature's time) and ``evidence`` (log-signed requests refused as inconsistent: proof of log
misbehaviour, kept up to :data:`EVIDENCE_PER_ORIGIN` per origin).

Triggers make a rollback impossible through SQL as well: a row of ``checkpoints`` is never
deleted, its size never decreases, and at the same size its root never changes.
The file is created 0600 by :meth:`WitnessStore.create` (``ledger witness init``) and opened
only if it exists (:meth:`WitnessStore.open`): SQLite would otherwise create an empty one, and a
witness that forgot what it cosigned could be led to cosign a fork.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ledger.errors import CheckpointError
from ledger.log.checkpoint import VerifierKey
from witness.errors import WitnessSetupError
from witness.keys import check_private_mode

SCHEMA_VERSION: Final = 1
EVIDENCE_PER_ORIGIN: Final = 1000

_SCHEMA: Final = (
    "CREATE TABLE witness (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL,"
    " vkey TEXT NOT NULL, version INTEGER NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE log_keys (origin TEXT NOT NULL, vkey TEXT NOT NULL, added_at TEXT NOT NULL,"
    " PRIMARY KEY (origin, vkey))",
    "CREATE TABLE checkpoints (origin TEXT PRIMARY KEY, size INTEGER NOT NULL CHECK (size >= 0),"
    " root BLOB NOT NULL, body BLOB NOT NULL, note TEXT NOT NULL, time INTEGER NOT NULL)",
    "CREATE TABLE evidence (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, received_at TEXT NOT"
    " NULL, reason TEXT NOT NULL, request BLOB NOT NULL)",
    "CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints"
    " BEGIN SELECT RAISE(ABORT, 'a cosigned checkpoint is never deleted'); END",
    "CREATE TRIGGER checkpoints_no_rollback BEFORE UPDATE ON checkpoints"
    " WHEN NEW.size < OLD.size OR (NEW.size = OLD.size AND NEW.root != OLD.root)"
    " OR NEW.origin != OLD.origin"
    " BEGIN SELECT RAISE(ABORT, 'a cosigned checkpoint is never rolled back'); END",
)


@dataclass(frozen=True)
class Cosigned:
    """The latest checkpoint cosigned for one origin."""

    origin: str
    size: int
    root: bytes
    body: bytes
    note: str
    time: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class WitnessStore:
    """The witness's SQLite state file; one connection, writes in ``BEGIN IMMEDIATE``."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._lock = threading.RLock()

    @staticmethod
    def _connect(path: Path, mode: str) -> sqlite3.Connection:
        uri = f"file:{path.resolve()}?mode={mode}"
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a cosignature is answered only once durable
        except sqlite3.Error as exc:
            raise WitnessSetupError(f"cannot open the witness state {path}: {exc}") from None
        return db

    @classmethod
    def create(cls, path: Path, name: str, vkey: str) -> WitnessStore:
        """Create a new state file (mode 0600) bound to the witness key ``vkey``."""
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise WitnessSetupError(f"{path} exists: a witness state is never recreated") from None
        except OSError as exc:
            raise WitnessSetupError(f"cannot create {path}: {exc}") from None
        store = cls(path, cls._connect(path, "rw"))
        with store.transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("INSERT INTO witness VALUES (1, ?, ?, ?, ?)",
                       (name, vkey, SCHEMA_VERSION, _now()))
        return store

    @classmethod
    def open(cls, path: Path) -> WitnessStore:
        """Open an existing state file; refuse a missing, unsafe or foreign one."""
        check_private_mode(path, "the witness state")
        store = cls(path, cls._connect(path, "rw"))
        try:
            row = store._db.execute("SELECT version FROM witness WHERE id = 1").fetchone()
        except sqlite3.Error as exc:
            store.close()
            raise WitnessSetupError(f"{path} is not a witness state: {exc}") from None
        if row is None or row[0] != SCHEMA_VERSION:
            store.close()
            raise WitnessSetupError(f"{path} has state version {row and row[0]!r}: expected"
                                    f" {SCHEMA_VERSION}")
        return store

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (``BEGIN IMMEDIATE``): the check of the old size
        and the update are one atomic step, across threads and processes."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- identity and configuration ----------------------------------------------------------

    def identity(self) -> tuple[str, str]:
        """The witness's (name, vkey) recorded by ``init``."""
        with self._lock:
            row = self._db.execute("SELECT name, vkey FROM witness WHERE id = 1").fetchone()
        return str(row[0]), str(row[1])

    def add_log_key(self, key: VerifierKey, origin: str | None = None) -> bool:
        """Pin a log key for ``origin`` (default: the key's name); False if it was pinned."""
        with self.transaction() as db:
            cursor = db.execute("INSERT OR IGNORE INTO log_keys VALUES (?, ?, ?)",
                                (origin or key.name, key.encode(), _now()))
            return cursor.rowcount == 1

    def log_keys(self) -> dict[str, list[VerifierKey]]:
        """Every pinned log key, by origin."""
        with self._lock:
            rows = self._db.execute("SELECT origin, vkey FROM log_keys ORDER BY origin, added_at")
            found: dict[str, list[VerifierKey]] = {}
            try:
                for origin, vkey in rows:
                    found.setdefault(str(origin), []).append(VerifierKey.parse(str(vkey)))
            except CheckpointError as exc:
                raise WitnessSetupError(f"a pinned log key in {self.path} is malformed: {exc}"
                                        ) from None
        return found

    # --- checkpoints ---------------------------------------------------------------------------

    @staticmethod
    def latest_in(db: sqlite3.Connection, origin: str) -> Cosigned | None:
        """The latest checkpoint cosigned for ``origin``, read on ``db`` (in a transaction)."""
        row = db.execute("SELECT origin, size, root, body, note, time FROM checkpoints"
                         " WHERE origin = ?", (origin,)).fetchone()
        if row is None:
            return None
        return Cosigned(str(row[0]), int(row[1]), bytes(row[2]), bytes(row[3]), str(row[4]),
                        int(row[5]))

    @staticmethod
    def put_in(db: sqlite3.Connection, cosigned: Cosigned) -> None:
        """Record ``cosigned`` as the origin's latest (in the caller's transaction)."""
        db.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin) DO"
                   " UPDATE SET size = excluded.size, root = excluded.root, body = excluded.body,"
                   " note = excluded.note, time = excluded.time",
                   (cosigned.origin, cosigned.size, cosigned.root, cosigned.body,
                    cosigned.note, cosigned.time))

    def latest(self, origin: str) -> Cosigned | None:
        """The latest checkpoint cosigned for ``origin``."""
        with self._lock:
            return self.latest_in(self._db, origin)

    def all_latest(self) -> list[Cosigned]:
        """The latest checkpoint of every origin cosigned so far."""
        with self._lock:
            origins = [str(row[0]) for row in
                       self._db.execute("SELECT origin FROM checkpoints ORDER BY origin")]
            return [c for o in origins if (c := self.latest_in(self._db, o)) is not None]

    # --- evidence ------------------------------------------------------------------------------

    def add_evidence(self, origin: str, reason: str, request: bytes) -> None:
        """Keep a log-signed request that was refused as inconsistent (capped per origin)."""
        with self.transaction() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM evidence WHERE origin = ?",
                                  (origin,)).fetchone()
            if count < EVIDENCE_PER_ORIGIN:
                db.execute("INSERT INTO evidence (origin, received_at, reason, request)"
                           " VALUES (?, ?, ?, ?)", (origin, _now(), reason, request))

    def evidence(self, origin: str | None = None) -> list[tuple[str, str, str, bytes]]:
        """Kept evidence rows ``(origin, received_at, reason, request)``, oldest first."""
        with self._lock:
            query = "SELECT origin, received_at, reason, request FROM evidence"
            rows = (self._db.execute(query + " WHERE origin = ? ORDER BY id", (origin,))
                    if origin is not None else self._db.execute(query + " ORDER BY id"))
            return [(str(a), str(b), str(c), bytes(d)) for a, b, c, d in rows]


__all__ = ["EVIDENCE_PER_ORIGIN", "SCHEMA_VERSION", "Cosigned", "WitnessStore"]
