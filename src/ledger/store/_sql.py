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
import struct
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Generic, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent

from ledger.crypto.suites import Profile, profile_named
from ledger.errors import (
    CheckpointError,
    ConfigurationError,
    HeadsMapUnavailableError,
    IntegrityFailedError,
    StoredValueError,
)
from ledger.log.checkpoint import SignedNote
from ledger.log.documents import Document, check_stored
from ledger.log.entries import END_OF_TIME, PendingEntry
from ledger.log.headmap import (
    EMPTY,
    KEY_BITS,
    HeadMap,
    HeadProof,
    Node,
    StreamHead,
    head_key,
    heads_root,
)
from ledger.log.heads import (
    GROUP_LEVELS,
    LAYOUT,
    CurrentHeads,
    GroupKey,
    HeadRow,
    HeadsBehindError,
    LatestNodeStore,
    decode_group,
    decode_group_path,
    decode_node,
    decode_prefix,
    encode_prefix,
    group_rows,
    map_stream,
)
from ledger.log.sealing import Sealer
from ledger.log.store import CustodyRecord, StoredCheckpoint
from ledger.log.verify_heads import pack_groups
from ledger.log.writer import BatchOutcome, CheckpointSigner, LeafRow, LogRow

Row = Any
"""A fetched row: ``sqlite3.Row`` or psycopg's dict row; the shared code reads columns by name."""

TABLE_NAMES = ("log_leaves", "log_nodes", "log_checkpoints", "ledger_meta", "key_custody",
               "api_tokens", "documents", "log_cosignatures", "calendar_years", "head_nodes",
               "document_owners", "api_sessions", "api_token_expiry", "upload_allowances")
"""The ledger's own tables; a dialect names each as its statements write it."""

HEADS_MAP_START: Final = "heads_map_start"
"""The ``ledger_meta`` key holding the log size of the heads map's first version. Set once, in
the transaction that writes that version: a database without it has no map (yet)."""

MAX_VERSION: Final = 2**63 - 1
"""An upper bound for a version range with none (the largest BIGINT)."""

_REBUILDS: Final = 3
"""How many times an append rebuilds a map too far behind the log before giving up."""

HEADS_MAP_LAYOUT: Final = "heads_map_layout"
"""The ``ledger_meta`` key naming how ``head_nodes`` stores the map (:data:`~ledger.log.heads.
LAYOUT`: node groups). Absent beside ``heads_map_start``: one node per row, the first layout,
which ``ledger init`` converts."""

CURRENT_FOR: Final = 1.0
"""Seconds for which a process answers head proofs at the newest checkpoint it knows from its
map in memory, without asking the database whether another process has appended since: from
the start of its own append that signed that checkpoint, or from a read that found it the
newest. A proof so answered always names the checkpoint it is a proof against and verifies
with it; only another process's newer checkpoint can be up to this long unseen (the same
second for which a checkpoint's cosigned note is reused)."""


@dataclass(frozen=True)
class _KnownNewest:
    """The newest checkpoint a process knows, its map at that size, and since when it knows
    the checkpoint to be the newest (``time.monotonic``)."""

    checkpoint: StoredCheckpoint
    heads: CurrentHeads
    since: float


_PATH_GROUPS: Final = 12
"""Node groups of a proof's path fetched per query (48 levels). A path is about
log2(streams) + 1.3 deep and rarely 2 log2(streams) (40 at 10^6 streams), so one query almost
always fetches it whole; a longer path takes a second query."""


@dataclass(frozen=True)
class Dialect:
    """How one database spells what the shared templates leave open.

    ``names`` fills the templates' fields: ``p`` (the parameter placeholder); the column types
    ``smallint``, ``int``, ``bigint``, ``bytes``, ``text``, ``uuid`` and ``bool``; the literals
    ``true`` and ``false``; ``without_rowid`` (a table option, or nothing); ``insert_or_ignore`` and
    ``on_conflict_ignore`` (the words before ``INTO`` and after ``VALUES (…)`` of an insert
    that skips an existing key); ``document_altered`` (a condition: a documents row's ``data``
    does not hash to its ``sha256``, NULL included); each of :data:`TABLE_NAMES`, ``events``
    (the events table) and ``topic_idx`` (its topic index) as a statement writes them.
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
    # A token's own expiry, chosen when it was issued; a token without one lives the
    # configured lifetime from its issue.
    "CREATE TABLE IF NOT EXISTS {api_token_expiry} ("
    " token_hash {text} PRIMARY KEY, expires_at {text} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {documents} ("
    " sha256 {text} PRIMARY KEY, media_type {text} NOT NULL, data {bytes} NOT NULL,"
    " added_at {text} NOT NULL)",
    # Who uploaded a document (a unit, or an actor of another role), first when: a unit reads
    # the documents it uploaded and those its projects cite (docs/api.md, Documents).
    "CREATE TABLE IF NOT EXISTS {document_owners} ("
    " sha256 {text} NOT NULL, owner {text} NOT NULL, actor {text} NOT NULL,"
    " added_at {text} NOT NULL, PRIMARY KEY (sha256, owner))",
    # The pages' sessions, by the hash of the id their cookie carries; a session lives while
    # its bearer token does (revoking or expiring the token ends it) and until sign-out.
    "CREATE TABLE IF NOT EXISTS {api_sessions} ("
    " session_hash {text} PRIMARY KEY, token_hash {text} NOT NULL, actor {text} NOT NULL,"
    " created_at {text} NOT NULL, ended {bool} NOT NULL DEFAULT {false})",
    # Each bearer token's (or actor's) upload allowance, shared by every server process:
    # the time, in microseconds since the epoch, at which its allowance is whole again (the
    # generic cell rate algorithm's theoretical arrival time). One row per token or actor
    # that has uploaded; a row in the past is the same as none.
    "CREATE TABLE IF NOT EXISTS {upload_allowances} ("
    " bucket {text} PRIMARY KEY, due {bigint} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {log_cosignatures} ("
    " size {bigint} NOT NULL, key_name {text} NOT NULL, key_id {text} NOT NULL,"
    " line {text} NOT NULL, added_at {text} NOT NULL, PRIMARY KEY (size, key_name, key_id))",
    "CREATE INDEX IF NOT EXISTS log_leaves_entry_hash_idx ON {log_leaves} (entry_hash)",
    "CREATE TABLE IF NOT EXISTS {calendar_years} ("
    " year {int} PRIMARY KEY, data {text} NOT NULL, added_at {text} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {topic_idx} ON {events} (topic)",
    # The stream heads map's node versions (docs/evidence-format.md, Stream heads map,
    # Versions and storage). Keyed by version first: rows are written in version order and
    # read by version ranges (a process catching up, ``ledger verify``), so SQLite, which
    # keeps a WITHOUT ROWID table in key order, appends them at the end and reads them in
    # sequence. A position's node as of log size N is its row with the largest version <= N:
    # one backward seek of the (depth, prefix, version) index.
    "CREATE TABLE IF NOT EXISTS {head_nodes} ("
    " depth {smallint} NOT NULL, prefix {bytes} NOT NULL, version {bigint} NOT NULL,"
    " node {bytes} NOT NULL, PRIMARY KEY (version, depth, prefix)){without_rowid}",
    "CREATE INDEX IF NOT EXISTS head_nodes_position_idx ON {head_nodes}"
    " (depth, prefix, version)",
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
        "SELECT l.leaf_index, l.originator_id, l.originator_version, l.entry_hash,"
        " l.recorded_at, l.nonce, l.notification_id, e.topic, e.state FROM {log_leaves} AS l"
        " LEFT JOIN {events} AS e ON e.originator_id = l.originator_id"
        " AND e.originator_version = l.originator_version"
        " WHERE l.leaf_index >= {p} AND l.leaf_index < {p} ORDER BY l.leaf_index")
    # The same rows as iter_log's, read as two range scans (SQLSnapshot._joined): the leaves,
    # then the events whose notification ids they span, joined in the client.
    leaves_between: str = (
        "SELECT leaf_index, originator_id, originator_version, entry_hash, recorded_at, nonce,"
        " notification_id FROM {log_leaves} WHERE leaf_index >= {p} AND leaf_index < {p}"
        " ORDER BY leaf_index")
    events_numbered: str = (
        "SELECT {notification_id}, originator_id, originator_version, topic, state FROM {events}"
        " WHERE {notification_id} >= {p} AND {notification_id} <= {p}")
    iter_nodes: str = "SELECT level, idx, hash FROM {log_nodes}"
    nodes_in_order: str = "SELECT level, idx, hash FROM {log_nodes} ORDER BY level, idx"
    stream_ids: str = ("SELECT originator_id FROM {log_leaves} WHERE originator_version = 1"
                       " ORDER BY leaf_index")
    streams_with_topics_in: str = "SELECT DISTINCT originator_id FROM {events} WHERE topic"
    count_events: str = "SELECT COUNT(*) AS n FROM {events}"
    # Hashed where they are stored: a document may be tens of megabytes.
    altered_documents: str = ("SELECT sha256, COUNT(*) OVER () FROM {documents}"
                              " WHERE {document_altered} ORDER BY sha256 LIMIT 100")
    count_documents: str = "SELECT COUNT(*) FROM {documents}"
    latest_checkpoint: str = "SELECT * FROM {log_checkpoints} ORDER BY size DESC LIMIT 1"
    checkpoint_at_most: str = ("SELECT * FROM {log_checkpoints} WHERE size <= {p}"
                               " ORDER BY size DESC LIMIT 1")
    iter_checkpoints: str = "SELECT * FROM {log_checkpoints} ORDER BY size"
    get_meta: str = "SELECT value FROM {ledger_meta} WHERE key = {p}"
    put_meta: str = ("{insert_or_ignore} INTO {ledger_meta} (key, value) VALUES ({p}, {p})"
                     "{on_conflict_ignore}")
    put_custody: str = "INSERT INTO {key_custody} (key_id, actor, sealed) VALUES ({p}, {p}, {p})"
    get_custody: str = "SELECT * FROM {key_custody} WHERE key_id = {p}"
    custody_records: str = "SELECT key_id, actor, sealed FROM {key_custody} ORDER BY key_id"
    reseal_custody: str = "UPDATE {key_custody} SET sealed = {p} WHERE key_id = {p}"
    # Statements, not secrets (S105 goes by the word "token" in a name).
    put_token: str = ("INSERT INTO {api_tokens} (token_hash, actor, created_at)"  # noqa: S105
                      " VALUES ({p}, {p}, {p})")
    put_token_expiry: str = ("INSERT INTO {api_token_expiry} (token_hash, expires_at)"  # noqa: S105
                             " VALUES ({p}, {p})")
    actor_for_token: str = ("SELECT t.actor FROM {api_tokens} AS t"  # noqa: S105
                            " LEFT JOIN {api_token_expiry} AS e ON e.token_hash = t.token_hash"
                            " WHERE t.token_hash = {p} AND t.revoked = {false}"
                            " AND ((e.expires_at IS NULL AND t.created_at > {p})"
                            " OR e.expires_at > {p})")
    tokens_of: str = ("SELECT t.token_hash, t.created_at, t.revoked, e.expires_at"
                      " FROM {api_tokens} AS t LEFT JOIN {api_token_expiry} AS e"
                      " ON e.token_hash = t.token_hash WHERE t.actor = {p}"
                      " ORDER BY t.created_at")
    put_session: str = ("INSERT INTO {api_sessions} (session_hash, token_hash, actor, created_at)"
                        " VALUES ({p}, {p}, {p}, {p})")
    actor_for_session: str = (
        "SELECT s.actor FROM {api_sessions} AS s JOIN {api_tokens} AS t"
        " ON t.token_hash = s.token_hash"
        " LEFT JOIN {api_token_expiry} AS e ON e.token_hash = t.token_hash"
        " WHERE s.session_hash = {p} AND s.ended = {false}"
        " AND s.created_at > {p} AND t.revoked = {false}"
        " AND ((e.expires_at IS NULL AND t.created_at > {p}) OR e.expires_at > {p})")
    end_session: str = ("UPDATE {api_sessions} SET ended = {true}"
                        " WHERE session_hash = {p} AND ended = {false}")
    # One upload spent if the allowance holds it: the due time moves on by an interval from
    # itself or from now, whichever is later, unless that is more than a window from now (the
    # row is then left as it is and no row is touched). Parameters: bucket, now + interval,
    # then (now, now, interval) twice, and now + window.
    take_allowance: str = (
        "INSERT INTO {upload_allowances} AS a (bucket, due) VALUES ({p}, {p})"
        " ON CONFLICT (bucket) DO UPDATE"
        " SET due = CASE WHEN a.due > {p} THEN a.due ELSE {p} END + {p}"
        " WHERE CASE WHEN a.due > {p} THEN a.due ELSE {p} END + {p} <= {p}")
    allowance_due: str = "SELECT due FROM {upload_allowances} WHERE bucket = {p}"
    put_document_owner: str = (
        "{insert_or_ignore} INTO {document_owners} (sha256, owner, actor, added_at)"
        " VALUES ({p}, {p}, {p}, {p}){on_conflict_ignore}")
    document_owner_added: str = ("SELECT added_at FROM {document_owners}"
                                 " WHERE sha256 = {p} AND owner = {p}")
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
    cosigned_at_most: str = ("SELECT MAX(size) AS size FROM {log_cosignatures}"
                             " WHERE key_name = {p} AND key_id = {p} AND size <= {p}")
    # The newest leaf of every stream among the first N: what the heads map holds at size N.
    # Portable; each backend replaces it with a faster form (PostgreSQL: DISTINCT ON; SQLite:
    # a join on each stream's largest seq, run where no leaf is beyond N).
    stream_heads_below: str = (
        "SELECT originator_id, originator_version, entry_hash, leaf_index FROM ("
        " SELECT originator_id, originator_version, entry_hash, leaf_index, ROW_NUMBER()"
        " OVER (PARTITION BY originator_id ORDER BY originator_version DESC) AS newest"
        " FROM {log_leaves} WHERE leaf_index < {p}) AS s WHERE newest = 1")
    head_node_at: str = ("SELECT node FROM {head_nodes} WHERE depth = {p} AND prefix = {p}"
                         " AND version <= {p} ORDER BY version DESC LIMIT 1")
    head_nodes_between: str = ("SELECT version, depth, prefix, node FROM {head_nodes}"
                               " WHERE version > {p} AND version <= {p} ORDER BY version")
    # The rows of each version as one row of parallel arrays (depths, prefixes, groups), for
    # a backend that has arrays (PostgreSQL sets it); empty: read head_nodes_between and group.
    head_groups_between: str = ""
    # A version's rows as one value, as verify_heads.pack_groups packs them, with their number,
    # where the backend can write it (PostgreSQL sets it); empty: packed from the rows here.
    head_packed_between: str = ""
    # The columns' types as the database has them: the packed statement is written for the
    # schema's, and an operator may have altered one (it is then read row by row, and named).
    head_column_types: str = ""
    insert_head_node: str = ("INSERT INTO {head_nodes} (depth, prefix, version, node)"
                             " VALUES ({p}, {p}, {p}, {p})")
    delete_head_nodes: str = "DELETE FROM {head_nodes}"

    def rendered(self, dialect: Dialect) -> Statements:
        """Every statement in ``dialect``."""
        return dataclasses.replace(self, **{
            field.name: dialect.render(getattr(self, field.name))
            for field in dataclasses.fields(self)})


class _Closable(Protocol):
    def close(self) -> None: ...


class Cursor(Protocol):
    """The part of a DB-API cursor the locked maintenance transaction uses (tuple rows)."""

    def execute(self, query: Any, params: Any = ...) -> Any:
        """Run one statement."""
        ...

    def executemany(self, query: Any, params_seq: Any) -> Any:
        """Run one statement per parameter row."""
        ...

    def fetchall(self) -> list[Any]:
        """The rows of the last statement."""
        ...


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
        self._heads: CurrentHeads | None = None  # loaded at the first append
        self._heads_lock = threading.Lock()
        self._heads_start: int | None = None  # set once, then never changes
        self._newest: _KnownNewest | None = None  # head proofs from memory (CURRENT_FOR)

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

    def _tuples(self, query: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Every row of a read as a plain tuple (binary on PostgreSQL): for reads of many
        rows, where a row object per row, or bytea as hex text, would cost more than the
        query (``ledger verify`` reads every heads-map node version)."""
        raise NotImplementedError

    def _locked(self) -> AbstractContextManager[Cursor]:
        """A transaction holding the append's exclusive lock, committed if the block ends
        normally, rolled back if it raises; its cursor's rows are tuples."""
        raise NotImplementedError

    def _head_path(self, positions: Sequence[tuple[int, bytes]], version: int,
                   ) -> dict[int, bytes]:
        """The stored node at each ``(depth, prefix)`` as of ``version`` (the row with the
        largest version ≤ it), by depth; positions holding none are left out. One query."""
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
            row["key_id"], row["actor"],
            _blob(row["sealed"], f"key {key_id!r}'s sealed private key"))

    def reseal_custody(self, reseal: Callable[[CustodyRecord], bytes | None]) -> int:
        """Replace custody records in one transaction under the append's lock; nothing
        changes if ``reseal`` raises (a master key that does not open every key)."""
        with self._locked() as curs:
            curs.execute(self.sql.custody_records, ())
            records = [CustodyRecord(str(key_id), str(actor), bytes(sealed))
                       for key_id, actor, sealed in curs.fetchall()]
            updates = [(new, record.key_id) for record in records
                       if (new := reseal(record)) is not None]
            if updates:
                curs.executemany(self.sql.reseal_custody, updates)
        return len(updates)

    def put_token(self, token_hash: str, actor: str, created_at: str,
                  expires_at: str | None = None) -> None:
        """Store an API token's hash (the token itself is shown once and never stored), with
        its own expiry if one was chosen: the expiry first, so that the token never exists
        without it (an expiry left by a failed insert names no token)."""
        if expires_at is not None:
            self._run(self.sql.put_token_expiry, (token_hash, expires_at))
        self._run(self.sql.put_token, (token_hash, actor, created_at))

    def actor_for_token(self, token_hash: str, issued_after: str = "",
                        now: str = "") -> str | None:
        """The actor of a live token: not revoked, and before its own expiry (later than
        ``now``) or, without one, issued after ``issued_after``."""
        row = self._one(self.sql.actor_for_token, (token_hash, issued_after, now))
        return None if row is None else str(row["actor"])

    def tokens_of(self, actor: str) -> list[tuple[str, str, bool, str | None]]:
        """An actor's tokens as (hash, issued at, revoked, own expiry or None), oldest first."""
        return [(str(row["token_hash"]), str(row["created_at"]), bool(row["revoked"]),
                 None if row["expires_at"] is None else str(row["expires_at"]))
                for row in self._all(self.sql.tokens_of, (actor,))]

    def put_session(self, session_hash: str, token_hash: str, actor: str,
                    created_at: str) -> None:
        """Store a pages session's hash, bound to the token it was signed in with."""
        self._run(self.sql.put_session, (session_hash, token_hash, actor, created_at))

    def actor_for_session(self, session_hash: str, started_after: str,
                          token_issued_after: str, now: str = "") -> str | None:
        """The actor of a live session: not ended, started after ``started_after``, its token
        live (as :meth:`actor_for_token`)."""
        row = self._one(self.sql.actor_for_session,
                        (session_hash, started_after, token_issued_after, now))
        return None if row is None else str(row["actor"])

    def end_session(self, session_hash: str) -> int:
        """End a session (sign-out); how many were live (0 or 1)."""
        return self._run(self.sql.end_session, (session_hash,))

    def take_allowance(self, bucket: str, now: int, interval: int, window: int) -> int:
        """Spend one upload of ``bucket``'s allowance (microseconds: the time ``now``, one
        upload's ``interval``, and the ``window`` an allowance spans): 0 if it was spent, else
        how long until it could be. One statement, so that processes sharing the database
        never both spend the last upload."""
        if self._run(self.sql.take_allowance, (bucket, now + interval, now, now, interval,
                                               now, now, interval, now + window)):
            return 0
        row = self._one(self.sql.allowance_due, (bucket,))
        due = now if row is None else int(row["due"])
        return max(due + interval - now - window, 1)

    def put_document_owner(self, sha256: str, owner: str, actor: str, added_at: str) -> str:
        """Record that ``owner`` uploaded a document (kept once); when it first did."""
        self._run(self.sql.put_document_owner, (sha256, owner, actor, added_at))
        row = self._one(self.sql.document_owner_added, (sha256, owner))
        return added_at if row is None else str(row["added_at"])

    def document_owned_by(self, sha256: str, owner: str) -> bool:
        """Whether ``owner`` uploaded the document."""
        return self._one(self.sql.document_owner_added, (sha256, owner)) is not None

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
        return None if row is None else check_stored(Document(
            row["sha256"], row["media_type"], bytes(row["data"]), row["added_at"]))

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

    def cosigned_at_most(self, key_name: str, key_id: str, size: int) -> int | None:
        """The largest size of at most ``size`` with a stored line of that witness key."""
        row = self._one(self.sql.cosigned_at_most, (key_name, key_id, size))
        return None if row is None or row["size"] is None else int(row["size"])


class SQLHeadsMap(SQLSideTables[D]):
    """The stream heads map's storage, shared by both recorders: the process's current map
    (loaded once, then kept by the appends), the upgrade of a database made before the map,
    proofs served from the stored node versions, and the rows ``ledger verify`` compares."""

    # --- the map's start -------------------------------------------------------------------

    def heads_map_start(self) -> int | None:
        """The log size of the map's first version; None if the database has no map."""
        if self._heads_start is None:
            value = self.get_meta(HEADS_MAP_START)
            self._heads_start = None if value is None else int(value)
        return self._heads_start

    def heads_map_layout(self) -> str | None:
        """How ``head_nodes`` stores the map (None: one node per row, or no map)."""
        return self.get_meta(HEADS_MAP_LAYOUT)

    def _convert_heads_layout(self) -> None:
        """Store a map kept one node per row (its first layout) as node groups (``ledger
        init``), under the append's lock, in one transaction.

        Every version is replayed in order into the map as of that version, and the groups
        holding the nodes it wrote are stored at that version, whole: the rows an append of
        this version would have written. Proofs at every size, and ``ledger verify``, then
        read the new rows; the roots are unchanged.
        """
        if self.heads_map_start() is None or self.heads_map_layout() == LAYOUT:
            return
        with self._locked() as curs:
            curs.execute(self.sql.get_meta, (HEADS_MAP_LAYOUT,))
            if curs.fetchall():
                return  # another process converted it meanwhile
            curs.execute(self.sql.get_meta, ("profile",))
            named = curs.fetchall()
            profile = profile_named(str(named[0][0])) if named else self.profile
            curs.execute(self.sql.head_nodes_between, (-1, MAX_VERSION))
            old = curs.fetchall()
            store = LatestNodeStore()
            current = store.nodes  # the map as of the version being converted
            rows: list[tuple[int, bytes, int, bytes]] = []
            at = 0
            while at < len(old):
                version, nodes = int(old[at][0]), {}
                while at < len(old) and int(old[at][0]) == version:
                    _, depth, prefix, data = old[at]
                    nodes[int(depth), decode_prefix(int(depth), bytes(prefix))] = decode_node(
                        profile, bytes(data))
                    at += 1
                store.put(version, nodes)
                for (depth, prefix), group in group_rows(nodes, current.get).items():
                    rows.append((depth, encode_prefix(depth, prefix), version, group))
            curs.execute(self.sql.delete_head_nodes)
            curs.executemany(self.sql.insert_head_node, rows)
            curs.execute(self.sql.put_meta, (HEADS_MAP_LAYOUT, LAYOUT))

    def _start_heads_map(self) -> None:
        """Give a database without a heads map one, at the log's current size (``ledger init``
        after the tables are made: a fresh database starts it at size 0).

        Under the append's lock, in one transaction: every stream's newest entry makes the
        map, whose every node is stored as version = the log size, and the start is recorded
        in ``ledger_meta``. Checkpoints before that size keep having no ``heads`` line.
        """
        if self.heads_map_start() is not None:
            return
        with self._locked() as curs:
            curs.execute(self.sql.get_meta, (HEADS_MAP_START,))
            if curs.fetchall():
                return  # another process upgraded it meanwhile
            curs.execute(self.sql.tree_size)
            size = int(curs.fetchall()[0][0])
            # The database's profile, not the configured one: ``ledger init`` creates the
            # tables before it reads the identity, and the map's hashes are the log's.
            curs.execute(self.sql.get_meta, ("profile",))
            named = curs.fetchall()
            profile = profile_named(str(named[0][0])) if named else self.profile
            curs.execute(self.sql.stream_heads_below, (size,))
            heads = self._heads_of(curs.fetchall())
            snapshot = CurrentHeads.build(profile, heads, size).snapshot()
            curs.executemany(self.sql.insert_head_node,
                             [(depth, prefix, version, node)
                              for version, depth, prefix, node in snapshot.rows()])
            curs.execute(self.sql.put_meta, (HEADS_MAP_START, str(size)))
            curs.execute(self.sql.put_meta, (HEADS_MAP_LAYOUT, LAYOUT))
        self._heads_start = None  # read again: committed now

    def _heads_of(self, rows: Sequence[Row]) -> dict[UUID, StreamHead]:
        """Stream heads from (originator id, seq, entry hash, leaf index) rows."""
        heads: dict[UUID, StreamHead] = {}
        for originator_id, seq, entry_hash, leaf_index in rows:
            if type(seq) is not int or type(leaf_index) is not int:
                raise StoredValueError(f"a leaf's seq and index are stored as {seq!r:.20} and"
                                       f" {leaf_index!r:.20}, not integers")
            stream = map_stream(_stream_id(self._originator_id, originator_id, leaf_index))
            if stream is not None:
                heads[stream] = StreamHead(seq, _blob(entry_hash, f"leaf {leaf_index}'s entry"
                                                      " hash", leaf_index), leaf_index)
        return heads

    # --- the process's current map ---------------------------------------------------------

    def _current_heads(self) -> CurrentHeads:
        """The current map, loaded at first use (and again if the profile changed)."""
        heads = self._heads
        if heads is not None and heads.profile.name == self.profile.name:
            return heads
        with self._heads_lock:
            if self._heads is None or self._heads.profile.name != self.profile.name:
                self._heads = self._load_heads()
            return self._heads

    def _reload_heads(self, stale: CurrentHeads) -> None:
        """Rebuild the map (outside the append's lock) when it fell too far behind the log
        to catch up under the lock; a thread that finds it rebuilt already does nothing."""
        with self._heads_lock:
            if self._heads is stale:
                self._newest = None
                self._heads = self._load_heads()

    def _append_with_heads(self, append: Callable[[CurrentHeads], BatchOutcome],
                           ) -> BatchOutcome:
        """Run one backend append (its transaction committed when it returns) with the
        current map, then merge the batch's map update — only now that it is committed.

        A map too far behind to catch up under the lock makes the append roll back
        (:class:`~ledger.log.heads.HeadsBehindError`): it is rebuilt outside the lock and the
        append runs again (a few times at most: appends landing during a rebuild are caught
        up under the lock on the next try).
        """
        heads = self._current_heads()
        for attempt in range(_REBUILDS + 1):
            # Before the append: its checkpoint is the newest at its commit, which is later.
            started = time.monotonic()
            try:
                outcome = append(heads)
            except HeadsBehindError:
                if attempt == _REBUILDS:
                    raise
                self._reload_heads(heads)
                heads = self._current_heads()
                continue
            update, checkpoint = outcome.heads_update, outcome.checkpoint
            if update is not None and heads.commit(update) and (
                    checkpoint is not None and checkpoint[0] == update.version):
                self._newest = _KnownNewest(StoredCheckpoint(*checkpoint), heads, started)
            return outcome
        raise AssertionError("unreachable")

    def _load_heads(self) -> CurrentHeads:
        """The map at the log's current size, rebuilt from every stream's newest entry.

        Why rebuild rather than read the stored nodes: the stored nodes are every version
        of every group (several rows per leaf appended), and picking each position's
        newest needs a scan of them all, while the streams' newest entries are one row per
        stream, read by one grouped query over the leaves; building the map from them is
        ``O(streams)`` hashing (measured by ``scripts/bench/bench_heads_startup.py``: about
        a second at 10^5 streams and 10^6 leaves). Nothing is locked: the first
        ``size`` leaves and the node versions up to ``size`` are committed and never change,
        so this is the map at ``size`` whatever appends meanwhile (the next append catches up
        from there). Its root must equal the stored map's at ``size``, on which the next
        versions will be written, and the ``heads`` line of a checkpoint of that size.
        """
        start = self.heads_map_start()
        if start is None:
            raise ConfigurationError(
                "this database has no stream heads map (it was made by an earlier version):"
                " run `ledger init` (idempotent) to add it; appends are refused until then")
        if self.heads_map_layout() != LAYOUT:
            raise ConfigurationError(
                "this database stores its stream heads map one node per row (an earlier"
                " version's layout): run `ledger init` (idempotent) to convert it to node"
                " groups; appends are refused until then")
        size, rows = self._size_and_heads()
        current = CurrentHeads.build(self.profile, self._heads_of(rows), size)
        built = current.root()
        stored = self._stored_heads_root(size)
        if stored != built:
            raise IntegrityFailedError(
                f"the stored stream heads map at size {size} has root {stored.hex()}, but the"
                f" log's stream heads give {built.hex()}: run `ledger verify`")
        checkpoint = self._one(self.sql.checkpoint_at_most, (size,))
        if checkpoint is not None and checkpoint["size"] == size:
            extensions = SignedNote.parse(checkpoint["note"]).checkpoint.extensions
            try:
                signed = heads_root(extensions)
            except CheckpointError:
                signed = None  # signed before the map started: no line to compare
            if signed is not None and signed != built:
                raise IntegrityFailedError(
                    f"checkpoint {size}'s heads line gives root {signed.hex()}, but the log's"
                    f" stream heads give {built.hex()}: run `ledger verify`")
        return current

    def _size_and_heads(self) -> tuple[int, list[tuple[Any, ...]]]:
        """The log's size ``N`` and the newest leaf of every stream among the first ``N``
        (``stream_heads_below`` rows): any backend whose statement filters by ``N``."""
        row = self._one(self.sql.tree_size)
        size = 0 if row is None else int(row["n"])
        return size, self._tuples(self.sql.stream_heads_below, (size,))

    def _stored_heads_root(self, size: int) -> bytes:
        """The stored map's root at ``size`` (``EMPTY`` if it had no node then)."""
        row = self._one(self.sql.head_node_at, (0, b"", size))
        if row is None:
            return EMPTY
        return decode_group(self.profile, 0, 0, bytes(row["node"]))[0, 0].hash

    # --- proofs and rows -------------------------------------------------------------------

    def head_proof(self, stream: UUID, tree_size: int, *, checkpointed: bool = False,
                   ) -> tuple[StreamHead | None, HeadProof]:
        """``stream``'s head at log size ``tree_size`` and its proof, from the stored nodes.

        The path's node groups are read in one query ("the latest version ≤ N" at each); a
        path deeper than :data:`_PATH_GROUPS` groups takes one more query per that many.
        ``checkpointed``: the caller holds a stored checkpoint of ``tree_size`` (stored in the
        transaction of its leaves, so the log has them), and the log's size is not read.
        """
        start = self.heads_map_start()
        if start is None or tree_size < start:
            raise HeadsMapUnavailableError(tree_size, start)
        if not checkpointed:
            row = self._one(self.sql.tree_size)
            log_size = 0 if row is None else int(row["n"])
            if tree_size > log_size:
                raise HeadsMapUnavailableError(tree_size, start, log_size)
        return self._prove(stream, _PathStore(self, head_key(self.profile, stream), tree_size))

    def latest_head_proof(self, stream: UUID,
                          ) -> tuple[StoredCheckpoint, StreamHead | None, HeadProof] | None:
        """The newest stored checkpoint with ``stream``'s head and proof at its size, read
        together (PostgreSQL: one statement); None if there is no checkpoint yet.

        A process whose map is at the newest checkpoint it knows, known to be the newest
        less than :data:`CURRENT_FOR` ago, answers from memory with no read at all; otherwise
        it reads, and remembers the checkpoint read if its map is at that size."""
        newest = self._newest
        if newest is not None and time.monotonic() - newest.since < CURRENT_FOR and (
                newest.heads.profile.name == self.profile.name):
            held = newest.heads.prove_at(stream, newest.checkpoint.size)
            if held is not None:
                return (newest.checkpoint, *held)
        asked = time.monotonic()
        key = head_key(self.profile, stream)
        path = _PathStore(self, key, 0)
        found = self._latest_and_path(path.positions())
        if found is None:
            return None
        checkpoint, groups = found
        start = self.heads_map_start()
        if start is None or checkpoint.size < start:
            raise HeadsMapUnavailableError(checkpoint.size, start)
        path.prefetched(checkpoint.size, groups)
        proved = self._prove(stream, path)
        heads = self._heads
        if heads is not None and heads.version == checkpoint.size and (
                heads.profile.name == self.profile.name):
            self._newest = _KnownNewest(checkpoint, heads, asked)
        return (checkpoint, *proved)

    def _prove(self, stream: UUID, path: _PathStore) -> tuple[StreamHead | None, HeadProof]:
        """:meth:`HeadMap.prove` over one path's stored groups."""
        try:
            return HeadMap(self.profile, path).prove(stream, path.version)
        except (AssertionError, ValueError):  # HeadMap checks each stored node against its
            # parent's record; a group that does not decode is as inconsistent
            raise IntegrityFailedError(
                f"the stored heads map is inconsistent on this stream's path at size "
                f"{path.version}: run `ledger verify`", stream=stream) from None

    def _latest_and_path(self, positions: Sequence[tuple[int, bytes]],
                         ) -> tuple[StoredCheckpoint, dict[int, bytes]] | None:
        """The newest checkpoint and the stored group at each ``(depth, prefix)`` as of its
        size, by depth (:meth:`_head_path`); None if there is no checkpoint."""
        raise NotImplementedError

    def iter_head_nodes(self, after: int, upto: int | None = None) -> Iterator[HeadRow]:
        """Stored node versions with ``after < version ≤ upto``, ordered by version."""
        bound = MAX_VERSION if upto is None else upto
        for version, depth, prefix, node in self._tuples(self.sql.head_nodes_between,
                                                         (after, bound)):
            yield version, depth, bytes(prefix), bytes(node)


class _PathStore:
    """The stored nodes on one key's path at one version, as a read-only
    :class:`~ledger.log.headmap.NodeStore` for :meth:`HeadMap.prove`: each query fetches the
    next :data:`_PATH_GROUPS` node groups of the path, each decoded along the path only."""

    def __init__(self, backend: SQLHeadsMap[Any], key: bytes, version: int) -> None:
        self._backend = backend
        self._key = int.from_bytes(key, "big")
        self._version = version
        self._nodes: dict[int, Node] = {}
        self._fetched = 0  # levels [0, _fetched) are read (a multiple of GROUP_LEVELS)

    def positions(self) -> list[tuple[int, bytes]]:
        """The (depth, prefix) of the next groups to fetch: the next query's positions."""
        stop = min(self._fetched + _PATH_GROUPS * GROUP_LEVELS, KEY_BITS + 1)
        return [(level, encode_prefix(level, self._key >> (KEY_BITS - level)))
                for level in range(self._fetched, stop, GROUP_LEVELS)]

    def prefetched(self, version: int, groups: Mapping[int, bytes]) -> None:
        """Take the groups at :meth:`positions`, fetched as of ``version`` by another query."""
        self._version = version
        self._take(groups)

    def _take(self, groups: Mapping[int, bytes]) -> None:
        profile = self._backend.profile
        for level, data in groups.items():
            self._nodes.update(decode_group_path(profile, level, data, self._key))
        self._fetched = min(self._fetched + _PATH_GROUPS * GROUP_LEVELS, KEY_BITS + 1)

    @property
    def version(self) -> int:
        """The version the path is read at."""
        return self._version

    def get(self, depth: int, prefix: int, version: int) -> Node | None:
        """The node at ``depth`` on the path (``prefix`` is the key's first bits there)."""
        assert version == self._version
        assert prefix == self._key >> (KEY_BITS - depth)
        while depth >= self._fetched:
            self._take(self._backend._head_path(self.positions(), self._version))
        return self._nodes.get(depth)

    def put(self, version: int, nodes: Mapping[tuple[int, int], Node]) -> None:
        """Read-only."""
        raise TypeError("a proof's path is read-only")


SnapshotRows = Callable[[str, Sequence[object]], list[tuple[Any, ...]]]
"""Runs one read inside a backend's snapshot transaction; plain tuple rows."""


def _blob(value: object, what: str, leaf_index: int | None = None) -> bytes:
    """A blob column's value as bytes; :class:`StoredValueError` naming ``what`` if it holds
    anything else (SQLite keeps any type in any column, so an edited database can)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise StoredValueError(f"{what} is stored as {type(value).__name__}, not bytes",
                           leaf_index=leaf_index)


def _stream_id(convert: Callable[[Any], UUID | str], stored: object,
               leaf_index: int) -> UUID | str:
    """A leaf's stored stream id as the recorder converts it; :class:`StoredValueError` if it
    is not one (SQLite keeps any value in the column)."""
    try:
        return convert(stored)
    except (ValueError, TypeError, AttributeError) as exc:
        raise StoredValueError(f"leaf {leaf_index}'s stream id is stored as {stored!r:.40},"
                               " not a stream id", leaf_index=leaf_index) from exc


def _leaf_columns(index: object, *, seq: object, recorded_at: object, nonce: object,
                  notification: object, topic: object) -> None:
    """Raise :class:`StoredValueError` naming the first of a leaf row's columns (or its
    entry's topic) stored as a type the column cannot hold."""
    leaf_index = index if type(index) is int else None
    for what, value, kind in (("seq", seq, int), ("recorded_at", recorded_at, str),
                              ("notification id", notification, int), ("nonce", nonce, str),
                              ("entry's topic", topic, str)):
        if type(value) is not kind and not (value is None and what in ("nonce",
                                                                       "entry's topic")):
            raise StoredValueError(f"leaf {index}'s {what} is stored as {value!r:.40}, not"
                                   f" {'an integer' if kind is int else 'text'}",
                                   leaf_index=leaf_index)


class NamedStoredRows:
    """eventsourcing's reads of the events table, with a row holding what its column cannot (a
    NULL where NOT NULL was dropped, text in SQLite's id column: a database edited beneath the
    ledger) named as a :class:`StoredValueError`, not a ValueError or TypeError from inside
    the library. First among a recorder's bases."""

    def select_events(self, originator_id: UUID | str, *, gt: int | None = None,
                      lte: int | None = None, desc: bool = False, limit: int | None = None,
                      ) -> Sequence[StoredEvent]:
        """The library's, named as above."""
        try:
            events: Sequence[StoredEvent] = super().select_events(  # type: ignore[misc]
                originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        except (ValueError, TypeError) as exc:
            raise StoredValueError(_EDITED_ROW.format(exc), stream=originator_id) from exc
        return events

    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             topics: Sequence[str] = (), *, inclusive_of_start: bool = True,
                             ) -> Sequence[Notification]:
        """The library's, named as above."""
        try:
            notifications: Sequence[Notification] = super().select_notifications(  # type: ignore[misc]
                start, limit, stop, topics, inclusive_of_start=inclusive_of_start)
        except (ValueError, TypeError) as exc:
            raise StoredValueError(_EDITED_ROW.format(exc)) from exc
        return notifications


_EDITED_ROW = "a row of the events table holds what its column cannot ({}): it was edited"


_HEAD_COLUMN_TYPES: Final = ("smallint", "bytea", "bytea")
"""``head_nodes``' depth, prefix and node as the schema makes them (``pg_typeof``)."""


class SQLSnapshot:
    """A :class:`~ledger.log.store.LogSnapshot` over a recorder's rendered statements, each
    run by ``rows`` in the backend's one snapshot transaction (``ledger verify``).

    Every read is bounded by nothing but the snapshot: it sees the log exactly as it was
    committed when the snapshot was taken, so leaves, entries, nodes, checkpoints and the
    heads map's rows always agree with each other whatever is appended meanwhile.
    """

    def __init__(self, store: SQLLogStore[Any], rows: SnapshotRows) -> None:
        self._store = store
        self._sql = store.sql
        self._rows = rows
        self._packable: bool | None = None  # whether head_packed_between can read head_nodes

    def tree_size(self) -> int:
        """Number of leaves in the snapshot."""
        return int(self._rows(self._sql.tree_size, ())[0][0])

    def iter_log(self, start: int = 0, stop: int | None = None,
                 batch: int = 2000) -> Iterator[tuple[LeafRow, StoredEvent | None]]:
        """Leaves in order joined with their stored events, in pages."""
        for page in self.log_pages(start, stop, batch):
            for index, stream, seq, digest, recorded_at, nonce, notification, topic, data in page:
                leaf = LeafRow(index, stream, seq, digest, recorded_at, nonce, notification)
                # (a topic edited to NULL is handed on as stored: the entry's type check names it)
                yield leaf, (None if data is None
                             else StoredEvent(stream, seq, cast(str, topic), data))

    def log_pages(self, start: int = 0, stop: int | None = None,
                  batch: int = 2000) -> Iterator[list[LogRow]]:
        """Leaves in order joined with their stored events, ``batch`` rows a list of plain
        tuples; a column holding what it cannot is a :class:`StoredValueError`."""
        originator_id = self._store._originator_id
        position = start
        while stop is None or position < stop:
            upper = position + batch if stop is None else min(position + batch, stop)
            rows = self._joined(position, upper)
            if not rows:
                return
            page: list[LogRow] = []
            append = page.append
            for row in rows:
                index, stream, seq, stored_hash, recorded_at, nonce, notification, topic, data = (
                    row)
                if (type(stream) is UUID and type(seq) is int and type(recorded_at) is str
                        and type(notification) is int and type(stored_hash) is bytes
                        and (nonce is None or type(nonce) is str)
                        and (topic is None or type(topic) is str)
                        and (data is None or type(data) is bytes)):
                    append(cast(LogRow, row))  # PostgreSQL's usual row, as it came
                    continue
                _leaf_columns(index, seq=seq, recorded_at=recorded_at, nonce=nonce,
                              notification=notification, topic=topic)
                append((index, _stream_id(originator_id, stream, index), seq,
                        (stored_hash if type(stored_hash) is bytes
                         else _blob(stored_hash, f"leaf {index}'s entry hash", index)),
                        recorded_at, nonce, notification, topic,
                        (data if data is None or type(data) is bytes
                         else _blob(data, f"leaf {index}'s entry", index))))
            yield page
            position = upper

    def _joined(self, start: int, stop: int) -> Sequence[tuple[Any, ...]]:
        """The leaves ``start`` to ``stop`` joined with their events, as the ``iter_log``
        statement's rows.

        Read as two range scans, the leaves and then the events numbered from the least to
        the greatest of their notification ids, joined here: the statement's join looks up
        each leaf's event in the events' key, a third of verify's database CPU. The
        join holds only if every leaf's notification id names an event of the leaf's own
        stream and seq, as the append writes them; any other page (an event missing or
        renumbered, a number given twice, a column of another type, ids scattered) is read by
        the statement, whose rows are the definition.
        """
        leaves = self._rows(self._sql.leaves_between, (start, stop))
        if not leaves:
            return leaves
        paired = self._paired(leaves)
        return self._rows(self._sql.iter_log, (start, stop)) if paired is None else paired

    def _paired(self, leaves: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]] | None:
        """``leaves`` each with its event, from one range scan of the events by the leaves'
        notification ids; None where that does not pair every leaf with the row of its own
        stream and seq alone (see :meth:`_joined`)."""
        numbers = [leaf[6] for leaf in leaves]
        if not all(type(number) is int for number in numbers):
            return None
        low, high = min(numbers), max(numbers)
        if high - low >= 2 * len(leaves) + 16:  # not the events of one run of appends
            return None
        found = self._rows(self._sql.events_numbered, (low, high))
        events = {row[0]: row for row in found}
        if len(events) != len(found):  # a number given twice (its unique index dropped)
            return None
        rows: list[tuple[Any, ...]] = []
        for leaf in leaves:
            event = events.get(leaf[6])
            if event is None or event[2] != leaf[2] or event[1] != leaf[1]:
                return None
            rows.append((*leaf, event[3], event[4]))
        return rows

    def iter_nodes(self) -> Iterator[tuple[tuple[int, int], bytes]]:
        """Every stored Merkle node, as ``((level, index), hash)``."""
        for level, index, stored in self._rows(self._sql.iter_nodes, ()):
            if type(level) is not int or type(index) is not int:
                raise StoredValueError(f"a stored Merkle node's position is stored as"
                                       f" ({level!r:.20}, {index!r:.20}), not two integers")
            yield (level, index), (stored if type(stored) is bytes else _blob(
                stored, f"the stored Merkle node at level {level}, index {index}"))

    def node_runs(self) -> list[tuple[int, list[int], list[object]]]:
        """Every stored Merkle node, a run per level (``LogSnapshot.node_runs``): the rows in
        (level, index) order, cut at each level, with no Python step per row."""
        rows = self._rows(self._sql.nodes_in_order, ())
        if not rows:
            return []
        levels, indexes, hashes = zip(*rows, strict=True)
        distinct = set(levels)
        if any(type(level) is not int for level in distinct):  # edited (SQLite): not ordered
            return [(-1, [], [])]  # a run that matches nothing: iter_nodes names the row
        runs: list[tuple[int, list[int], list[object]]] = []
        start = 0
        for level in sorted(distinct):
            stop = bisect_right(levels, level, start)
            runs.append((level, list(indexes[start:stop]), list(hashes[start:stop])))
            start = stop
        return runs

    def count_events(self) -> int:
        """Number of stored event rows."""
        return int(self._rows(self._sql.count_events, ())[0][0])

    def check_documents(self) -> tuple[int, int, list[str]]:
        """Every stored document hashed where it is stored: how many there are, how many do not
        hash to their name, and the first hundred of those (by name)."""
        count = int(self._rows(self._sql.count_documents, ())[0][0])
        altered = self._rows(self._sql.altered_documents, ())
        return count, int(altered[0][1]) if altered else 0, [str(row[0]) for row in altered]

    def iter_checkpoints(self) -> Iterator[StoredCheckpoint]:
        """All checkpoints by size."""
        for size, root, note in self._rows(self._sql.iter_checkpoints, ()):
            if type(size) is not int or type(note) is not str:
                raise StoredValueError(f"a checkpoint's size and note are stored as"
                                       f" {type(size).__name__} and {type(note).__name__},"
                                       " not an integer and text")
            yield StoredCheckpoint(size, _blob(root, f"checkpoint {size}'s root"), note)

    def heads_map_start(self) -> int | None:
        """The heads map's first version as the snapshot records it."""
        rows = self._rows(self._sql.get_meta, (HEADS_MAP_START,))
        if not rows:
            return None
        try:
            return int(rows[0][0])
        except (ValueError, TypeError) as exc:
            raise StoredValueError(f"the heads map's start is stored as {rows[0][0]!r:.40},"
                                   " not a log size") from exc

    def heads_map_layout(self) -> str | None:
        """How the snapshot's ``head_nodes`` stores the map (None: one node per row)."""
        rows = self._rows(self._sql.get_meta, (HEADS_MAP_LAYOUT,))
        return str(rows[0][0]) if rows else None

    def iter_head_packed(self, after: int, upto: int) -> Iterator[tuple[int, object, int]]:
        """Stored node versions with ``after < version ≤ upto``, each as one value packed as
        ``verify_heads.pack_groups`` packs a version's groups, with its number of rows, by
        version (``LogSnapshot.iter_head_packed``)."""
        if self._packable is None:
            types = (self._rows(self._sql.head_column_types, ())
                     if self._sql.head_packed_between else [])
            self._packable = bool(types) and tuple(types[0]) == _HEAD_COLUMN_TYPES
        if not self._packable:
            for version, groups, count in self.iter_head_groups(after, upto):
                try:
                    packed: object = pack_groups(groups)
                except struct.error:  # an edited depth beyond any map's: it differs
                    packed = None
                yield version, packed, count
            return
        for version, count, packed in self._rows(self._sql.head_packed_between, (after, upto)):
            yield version, packed, count

    def iter_head_groups(self, after: int, upto: int,
                         ) -> Iterator[tuple[int, dict[GroupKey, bytes], int]]:
        """Stored node versions with ``after < version ≤ upto``, a version at a time (its
        groups by position and its number of rows), ordered by version: as arrays where the
        backend aggregates them (a row per version, not per group: ``ledger verify`` reads
        every row of the map)."""
        if self._sql.head_groups_between:
            for version, depths, prefixes, nodes in self._rows(self._sql.head_groups_between,
                                                               (after, upto)):
                if nodes and not (type(nodes[0]) is bytes and type(prefixes[0]) is bytes):
                    where = f"the heads map's row at version {version}, depth {depths[0]}"
                    _blob(prefixes[0], where)  # an array holds one type: the column's
                    _blob(nodes[0], where)
                positions = zip(depths, prefixes, strict=True)
                yield version, dict(zip(positions, nodes, strict=True)), len(nodes)
            return
        groups: dict[GroupKey, bytes] = {}
        current, rows = None, 0
        for version, depth, prefix, node in self._rows(self._sql.head_nodes_between,
                                                       (after, upto)):
            if version != current:
                if current is not None:
                    yield current, groups, rows
                current, groups, rows = version, {}, 0
            if type(prefix) is bytes and type(node) is bytes and type(depth) is int:
                groups[depth, prefix] = node
            elif type(depth) is not int:
                raise StoredValueError(f"the heads map's row at version {version} has its"
                                       f" depth stored as {depth!r:.20}, not an integer")
            else:
                where = f"the heads map's row at version {version}, depth {depth}"
                groups[depth, _blob(prefix, where)] = _blob(node, where)
            rows += 1
        if current is not None:
            yield current, groups, rows


class SQLLogStore(SQLHeadsMap[D]):
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
        index, seq = row["leaf_index"], row["originator_version"]
        if type(index) is not int or index < 0:
            raise StoredValueError(f"a leaf's index is stored as {index!r:.20}, not a leaf"
                                   " index")
        _leaf_columns(index, seq=seq, recorded_at=row["recorded_at"], nonce=row["nonce"],
                      notification=row["notification_id"], topic=None)
        stream = _stream_id(self._originator_id, row["originator_id"], index)
        return LeafRow(index, stream, seq,
                       _blob(row["entry_hash"], f"leaf {index}'s entry hash", index),
                       row["recorded_at"], row["nonce"], row["notification_id"])

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
