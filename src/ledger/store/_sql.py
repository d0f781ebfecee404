"""What the SQLite and PostgreSQL recorders share: the log tables' statements, written once with
the dialects' differences left as names, and the Python that runs them.

A backend spells its :class:`Dialect` (placeholder, column types, table names as a statement
writes them, how an insert skips an existing key) and runs a statement three ways
(:meth:`SQLBackend._one`, ``_all``, ``_run``); the schema, the queries and what is made of their
rows are here, once. What truly differs stays with the backend: connections, the append's
transaction and lock, the Merkle node lookups, PostgreSQL's server functions.

Statements are rendered when a recorder is made, never per call: composing SQL per call cost
more CPU than a proof's query.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.crypto.suites import Profile
from ledger.log.documents import Document
from ledger.log.entries import END_OF_TIME, PendingEntry
from ledger.log.sealing import Sealer
from ledger.log.store import CustodyRecord, StoredCheckpoint
from ledger.log.writer import BatchOutcome, CheckpointSigner, LeafRow

Row = Any
"""A fetched row: ``sqlite3.Row`` or psycopg's dict row; the shared code reads columns by name."""

TABLE_NAMES = ("log_leaves", "log_nodes", "log_checkpoints", "ledger_meta", "key_custody",
               "api_tokens", "documents", "log_cosignatures", "calendar_years")
"""The ledger's own tables; a dialect names each as its statements write it."""


@dataclass(frozen=True)
class Dialect:
    """How one database spells what the shared templates leave open.

    ``names`` fills the templates' fields: ``p`` (the parameter placeholder); the column types
    ``int``, ``bigint``, ``bytes``, ``text``, ``uuid`` and ``bool``; the literals ``true`` and
    ``false``; ``without_rowid`` (a table option, or nothing); ``insert_or_ignore`` and
    ``on_conflict_ignore`` (the words before ``INTO`` and after ``VALUES (…)`` of an insert
    that skips an existing key); each of :data:`TABLE_NAMES`, ``events`` (the events table)
    and ``topic_idx`` (its topic index) as a statement writes them.
    """

    names: Mapping[str, str]
    arrays: bool
    """Whether a list binds as one array parameter (PostgreSQL) or one value per placeholder."""

    def render(self, template: str) -> str:
        """``template`` in this dialect."""
        return template.format_map(self.names)

    def where_in(self, query: str, values: Sequence[object],
                 ) -> tuple[str, Sequence[object]]:
        """``query``, which ends in a column, completed to match any of ``values``; and the
        parameters to run it with."""
        if self.arrays:
            return f"{query} = ANY({self.names['p']})", (list(values),)
        return f"{query} IN ({','.join([self.names['p']] * len(values))})", list(values)


TABLES = (
    "CREATE TABLE IF NOT EXISTS {log_leaves} ("
    " leaf_index {bigint} PRIMARY KEY, originator_id {uuid} NOT NULL,"
    " originator_version {bigint} NOT NULL, entry_hash {bytes} NOT NULL,"
    " recorded_at {text} NOT NULL, nonce {text} UNIQUE, notification_id {bigint} NOT NULL,"
    " UNIQUE (originator_id, originator_version))",
    "CREATE TABLE IF NOT EXISTS {log_nodes} ("
    " level {int} NOT NULL, idx {bigint} NOT NULL, hash {bytes} NOT NULL,"
    " PRIMARY KEY (level, idx)){without_rowid}",
    "CREATE TABLE IF NOT EXISTS {log_checkpoints} ("
    " size {bigint} PRIMARY KEY, root {bytes} NOT NULL, note {text} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {ledger_meta} (key {text} PRIMARY KEY, value {text} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {key_custody} ("
    " key_id {text} PRIMARY KEY, actor {text} NOT NULL, sealed {bytes} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {api_tokens} ("
    " token_hash {text} PRIMARY KEY, actor {text} NOT NULL, created_at {text} NOT NULL,"
    " revoked {bool} NOT NULL DEFAULT {false})",
    "CREATE TABLE IF NOT EXISTS {documents} ("
    " sha256 {text} PRIMARY KEY, media_type {text} NOT NULL, data {bytes} NOT NULL,"
    " added_at {text} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {log_cosignatures} ("
    " size {bigint} NOT NULL, key_name {text} NOT NULL, key_id {text} NOT NULL,"
    " line {text} NOT NULL, added_at {text} NOT NULL, PRIMARY KEY (size, key_name, key_id))",
    "CREATE INDEX IF NOT EXISTS log_leaves_entry_hash_idx ON {log_leaves} (entry_hash)",
    "CREATE TABLE IF NOT EXISTS {calendar_years} ("
    " year {int} PRIMARY KEY, data {text} NOT NULL, added_at {text} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {topic_idx} ON {events} (topic)",
)
"""The log tables and indexes, after the library's events table (``CREATE … IF NOT EXISTS``:
a database made by an older version opens as it is)."""


def create_statements(dialect: Dialect) -> list[str]:
    """:data:`TABLES` in ``dialect``."""
    return [dialect.render(template) for template in TABLES]


@dataclass(frozen=True)
class Statements:
    """The shared queries: as templates (the defaults) or, from :meth:`rendered`, in one dialect.

    A field ending in a column (``…_in``) is completed by :meth:`Dialect.where_in`.
    """

    tree_size: str = "SELECT COALESCE(MAX(leaf_index) + 1, 0) AS n FROM {log_leaves}"
    leaf: str = "SELECT * FROM {log_leaves} WHERE leaf_index = {p}"
    leaf_for: str = ("SELECT * FROM {log_leaves} WHERE originator_id = {p}"
                     " AND originator_version = {p}")
    stream_head_leaf: str = ("SELECT * FROM {log_leaves} WHERE originator_id = {p}"
                             " AND recorded_at <= {p} ORDER BY originator_version DESC LIMIT 1")
    leaf_for_nonce: str = "SELECT * FROM {log_leaves} WHERE nonce = {p}"
    leaf_for_hash: str = ("SELECT * FROM {log_leaves} WHERE entry_hash = {p}"
                          " ORDER BY leaf_index LIMIT 1")
    iter_log: str = (
        "SELECT l.*, e.topic, e.state FROM {log_leaves} AS l"
        " LEFT JOIN {events} AS e ON e.originator_id = l.originator_id"
        " AND e.originator_version = l.originator_version"
        " WHERE l.leaf_index >= {p} AND l.leaf_index < {p} ORDER BY l.leaf_index")
    iter_nodes: str = "SELECT level, idx, hash FROM {log_nodes}"
    stream_ids: str = ("SELECT originator_id FROM {log_leaves} WHERE originator_version = 1"
                       " ORDER BY leaf_index")
    streams_with_topics_in: str = "SELECT DISTINCT originator_id FROM {events} WHERE topic"
    count_events: str = "SELECT COUNT(*) AS n FROM {events}"
    latest_checkpoint: str = "SELECT * FROM {log_checkpoints} ORDER BY size DESC LIMIT 1"
    checkpoint_at_most: str = ("SELECT * FROM {log_checkpoints} WHERE size <= {p}"
                               " ORDER BY size DESC LIMIT 1")
    iter_checkpoints: str = "SELECT * FROM {log_checkpoints} ORDER BY size"
    get_meta: str = "SELECT value FROM {ledger_meta} WHERE key = {p}"
    put_meta: str = ("{insert_or_ignore} INTO {ledger_meta} (key, value) VALUES ({p}, {p})"
                     "{on_conflict_ignore}")
    put_custody: str = "INSERT INTO {key_custody} (key_id, actor, sealed) VALUES ({p}, {p}, {p})"
    get_custody: str = "SELECT * FROM {key_custody} WHERE key_id = {p}"
    # Statements, not secrets (S105 goes by the word "token" in a name).
    put_token: str = ("INSERT INTO {api_tokens} (token_hash, actor, created_at)"  # noqa: S105
                      " VALUES ({p}, {p}, {p})")
    actor_for_token: str = ("SELECT actor FROM {api_tokens}"  # noqa: S105
                            " WHERE token_hash = {p} AND revoked = {false}")
    revoke_tokens: str = ("UPDATE {api_tokens} SET revoked = {true}"
                          " WHERE actor = {p} AND revoked = {false}")
    put_calendar_year: str = (
        "INSERT INTO {calendar_years} (year, data, added_at) VALUES ({p}, {p}, {p})"
        " ON CONFLICT (year) DO UPDATE SET data = excluded.data, added_at = excluded.added_at")
    calendar_years: str = "SELECT data FROM {calendar_years} ORDER BY year"
    put_document: str = ("{insert_or_ignore} INTO {documents} (sha256, media_type, data, added_at)"
                         " VALUES ({p}, {p}, {p}, {p}){on_conflict_ignore}")
    get_document: str = "SELECT * FROM {documents} WHERE sha256 = {p}"
    existing_documents_in: str = "SELECT sha256 FROM {documents} WHERE sha256"
    put_cosignature: str = (
        "INSERT INTO {log_cosignatures} (size, key_name, key_id, line, added_at)"
        " VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT (size, key_name, key_id)"
        " DO UPDATE SET line = excluded.line, added_at = excluded.added_at")
    cosignatures: str = ("SELECT line FROM {log_cosignatures} WHERE size = {p}"
                         " ORDER BY key_name, key_id")

    def rendered(self, dialect: Dialect) -> Statements:
        """Every statement in ``dialect``."""
        return dataclasses.replace(self, **{
            field.name: dialect.render(getattr(self, field.name))
            for field in dataclasses.fields(self)})


class _Closable(Protocol):
    def close(self) -> None: ...


D = TypeVar("D", bound=_Closable)
"""The library's datastore of the backend."""


class SQLBackend(Generic[D]):
    """What a backend gives the shared methods: its rendered statements, three ways to run
    one, and how stream ids go in and come out.

    The id conversions default to a driver with a uuid type (psycopg); SQLite stores hex.
    """

    datastore: D
    sql: Statements
    dialect: Dialect
    profile: Profile
    sealer: Sealer
    sign_checkpoint: CheckpointSigner | None
    clock: Callable[[], datetime]

    def _init_ledger(self, dialect: Dialect, *, profile: Profile, sealer: Sealer,
                     sign_checkpoint: CheckpointSigner | None) -> None:
        """Set what both recorders keep (after the library's ``__init__``)."""
        self.dialect = dialect
        self.sql = Statements().rendered(dialect)
        self.profile = profile
        self.sealer = sealer
        self.sign_checkpoint = sign_checkpoint
        self.clock = lambda: datetime.now(UTC)

    def append(self, events: Sequence[StoredEvent],
               expected_heads: Mapping[str, int] | None = None,
               pending: Sequence[PendingEntry] | None = None) -> BatchOutcome:
        """Group commit (each backend's own transaction and lock)."""
        raise NotImplementedError

    def _one(self, query: str, params: Sequence[object] = ()) -> Row | None:
        """The first row of a read (None if there is none)."""
        raise NotImplementedError

    def _all(self, query: str, params: Sequence[object] = (), *,
             prepare: bool | None = None) -> list[Row]:
        """Every row of a read; ``prepare=True`` for a query run often (PostgreSQL prepares it
        at once rather than after a few runs; SQLite ignores it)."""
        raise NotImplementedError

    def _run(self, query: str, params: Sequence[object]) -> int:
        """Run a write in a transaction of its own; how many rows it touched."""
        raise NotImplementedError

    def _db_id(self, stream: UUID) -> object:
        """A stream id as a statement's parameter."""
        return stream

    def _originator_id(self, value: Any) -> UUID | str:
        """A stored originator id as the library's events carry it."""
        return cast(UUID, value)

    def _uuid(self, value: Any) -> UUID:
        """A stored originator id as a UUID."""
        return cast(UUID, value)


class SQLSideTables(SQLBackend[D]):
    """The ledger's records beside the log: metadata, key custody, API tokens, holiday years,
    documents and witness cosignatures."""

    def get_meta(self, key: str) -> str | None:
        """A metadata value."""
        row = self._one(self.sql.get_meta, (key,))
        return None if row is None else str(row["value"])

    def put_meta(self, key: str, value: str) -> None:
        """Set a metadata value once."""
        self._run(self.sql.put_meta, (key, value))
        stored = self.get_meta(key)
        if stored != value:
            raise IntegrityError(f"ledger metadata {key!r} is already {stored!r}")

    def put_custody(self, record: CustodyRecord) -> None:
        """Store a sealed private key."""
        self._run(self.sql.put_custody, (record.key_id, record.actor, record.sealed))

    def get_custody(self, key_id: str) -> CustodyRecord | None:
        """A sealed private key."""
        row = self._one(self.sql.get_custody, (key_id,))
        return None if row is None else CustodyRecord(
            row["key_id"], row["actor"], bytes(row["sealed"]))

    def put_token(self, token_hash: str, actor: str, created_at: str) -> None:
        """Store an API token's hash (the token itself is shown once and never stored)."""
        self._run(self.sql.put_token, (token_hash, actor, created_at))

    def actor_for_token(self, token_hash: str) -> str | None:
        """The actor of a live token."""
        row = self._one(self.sql.actor_for_token, (token_hash,))
        return None if row is None else str(row["actor"])

    def revoke_tokens(self, actor: str) -> int:
        """Revoke every token of an actor; effective on the next request."""
        return self._run(self.sql.revoke_tokens, (actor,))

    def put_calendar_year(self, year: int, data: str, added_at: str) -> None:
        """Store (or replace) an operator-added holiday year."""
        self._run(self.sql.put_calendar_year, (year, data, added_at))

    def calendar_years(self) -> list[str]:
        """Operator-added holiday years (year-file JSON), by year."""
        return [str(row["data"]) for row in self._all(self.sql.calendar_years)]

    def put_document(self, document: Document) -> None:
        """Store a document (idempotent: the hash names the content)."""
        self._run(self.sql.put_document,
                  (document.sha256, document.media_type, document.data, document.added_at))

    def get_document(self, sha256: str) -> Document | None:
        """A stored document."""
        row = self._one(self.sql.get_document, (sha256,))
        return None if row is None else Document(row["sha256"], row["media_type"],
                                                 bytes(row["data"]), row["added_at"])

    def existing_documents(self, hashes: Sequence[str]) -> set[str]:
        """Those of ``hashes`` that are stored."""
        rows = self._all(*self.dialect.where_in(self.sql.existing_documents_in, hashes))
        return {str(row["sha256"]) for row in rows}

    # --- evidence: witness cosignatures ----------------------------------------------------
    # Created on first use (they came after `ledger init` existed), idempotently.

    def put_cosignature(self, size: int, key_name: str, key_id: str, line: str,
                        added_at: str) -> None:
        """Store (or replace) a witness's cosignature line for the checkpoint of ``size``."""
        self._run(self.sql.put_cosignature, (size, key_name, key_id, line, added_at))

    def cosignatures(self, size: int) -> list[str]:
        """The stored cosignature lines of the checkpoint of ``size``, by key name and id."""
        return [str(row["line"]) for row in self._all(self.sql.cosignatures, (size,))]


class SQLLogStore(SQLSideTables[D]):
    """The :class:`ledger.log.store.LogStore` methods both recorders run the same way; each
    recorder is this before eventsourcing's application recorder."""

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """The library's insert, all-or-nothing: any refusal raises and nothing is written."""
        if not stored_events:
            return []
        outcome = self.append(stored_events)
        if outcome.rejected:
            error = outcome.rejected[min(outcome.rejected)]
            raise IntegrityError(str(error)) from error
        receipts = kwargs.get("receipts")
        if isinstance(receipts, list):
            receipts.extend(outcome.appended)
        return [a.notification_id for a in outcome.appended]

    def close(self) -> None:
        """Close the pool."""
        self.datastore.close()

    # --- leaves ----------------------------------------------------------------------------

    def _leaf(self, row: Row) -> LeafRow:
        return LeafRow(row["leaf_index"], self._originator_id(row["originator_id"]),
                       row["originator_version"], bytes(row["entry_hash"]), row["recorded_at"],
                       row["nonce"], row["notification_id"])

    def _leaf_where(self, query: str, params: Sequence[object]) -> LeafRow | None:
        row = self._one(query, params)
        return None if row is None else self._leaf(row)

    def tree_size(self) -> int:
        """Number of leaves."""
        row = self._one(self.sql.tree_size)
        return 0 if row is None else int(row["n"])

    def leaf(self, leaf_index: int) -> LeafRow | None:
        """The leaf at an index."""
        return self._leaf_where(self.sql.leaf, (leaf_index,))

    def leaf_for(self, stream: UUID, seq: int) -> LeafRow | None:
        """The leaf of (stream, seq)."""
        return self._leaf_where(self.sql.leaf_for, (self._db_id(stream), seq))

    def stream_head_leaf(self, stream: UUID, recorded_by: str | None = None) -> LeafRow | None:
        """The newest leaf of a stream (recorded at or before ``recorded_by``, if given)."""
        return self._leaf_where(self.sql.stream_head_leaf,
                                (self._db_id(stream), recorded_by or END_OF_TIME))

    def leaf_for_nonce(self, nonce: str) -> LeafRow | None:
        """The leaf of a nonce."""
        return self._leaf_where(self.sql.leaf_for_nonce, (nonce,))

    def leaf_for_hash(self, entry_hash: bytes) -> LeafRow | None:
        """The first leaf whose entry hash is ``entry_hash`` (indexed)."""
        return self._leaf_where(self.sql.leaf_for_hash, (entry_hash,))

    def iter_log(self, start: int = 0, stop: int | None = None,
                 batch: int = 2000) -> Iterator[tuple[LeafRow, StoredEvent | None]]:
        """Leaves in order joined with their stored events, in pages."""
        position = start
        while stop is None or position < stop:
            upper = position + batch if stop is None else min(position + batch, stop)
            rows = self._all(self.sql.iter_log, (position, upper))
            if not rows:
                return
            for row in rows:
                leaf = self._leaf(row)
                event = None if row["state"] is None else StoredEvent(
                    leaf.originator_id, leaf.originator_version, row["topic"],
                    bytes(row["state"]))
                yield leaf, event
            position = upper

    # --- streams and events ----------------------------------------------------------------

    def stream_ids(self) -> list[UUID]:
        """Every stream in the order it was opened."""
        return [self._uuid(row["originator_id"]) for row in self._all(self.sql.stream_ids)]

    def streams_with_topics(self, topics: Sequence[str]) -> list[UUID]:
        """Streams having at least one event of the given types (indexed by topic)."""
        query, params = self.dialect.where_in(self.sql.streams_with_topics_in, topics)
        return sorted(self._uuid(row["originator_id"])
                      for row in self._all(query, params, prepare=True))

    def count_events(self) -> int:
        """Number of stored event rows."""
        row = self._one(self.sql.count_events)
        return 0 if row is None else int(row["n"])

    # --- checkpoints -----------------------------------------------------------------------

    @staticmethod
    def _checkpoint(row: Row) -> StoredCheckpoint:
        return StoredCheckpoint(row["size"], bytes(row["root"]), row["note"])

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The largest checkpoint."""
        row = self._one(self.sql.latest_checkpoint)
        return None if row is None else self._checkpoint(row)

    def checkpoint_at_most(self, size: int) -> StoredCheckpoint | None:
        """The largest checkpoint not beyond ``size``."""
        row = self._one(self.sql.checkpoint_at_most, (size,))
        return None if row is None else self._checkpoint(row)

    def iter_checkpoints(self) -> Iterator[StoredCheckpoint]:
        """All checkpoints by size."""
        for row in self._all(self.sql.iter_checkpoints):
            yield self._checkpoint(row)
