"""The PostgreSQL recorder: eventsourcing's application recorder plus the log tables.

Appends take the events table's EXCLUSIVE lock (as the library does for notification ids) and,
under it, assign dense leaf indexes, Merkle nodes and a checkpoint in the same transaction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Connection, Cursor
from psycopg import IntegrityError as PsycopgIntegrityError
from psycopg.errors import UndefinedFunction
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier

from ledger.crypto.suites import Profile
from ledger.log.documents import Document
from ledger.log.entries import END_OF_TIME, PendingEntry
from ledger.log.merkle import NodeId
from ledger.log.sealing import Sealer, StreamHead
from ledger.log.store import CustodyRecord, StoredCheckpoint
from ledger.log.writer import (
    BatchOutcome,
    CheckpointSigner,
    Expected,
    KnownLog,
    LeafRow,
    LockedLog,
    NewLeaf,
    write_batch,
    write_predicted,
)

_log = logging.getLogger("ledger.store")

_TABLES = (
    "CREATE TABLE IF NOT EXISTS {schema}.log_leaves ("
    " leaf_index bigint PRIMARY KEY, originator_id uuid NOT NULL,"
    " originator_version bigint NOT NULL, entry_hash bytea NOT NULL,"
    " recorded_at text NOT NULL, nonce text UNIQUE, notification_id bigint NOT NULL,"
    " UNIQUE (originator_id, originator_version))",
    "CREATE TABLE IF NOT EXISTS {schema}.log_nodes ("
    " level integer NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL,"
    " PRIMARY KEY (level, idx))",
    "CREATE TABLE IF NOT EXISTS {schema}.log_checkpoints ("
    " size bigint PRIMARY KEY, root bytea NOT NULL, note text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {schema}.ledger_meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {schema}.key_custody ("
    " key_id text PRIMARY KEY, actor text NOT NULL, sealed bytea NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {schema}.api_tokens ("
    " token_hash text PRIMARY KEY, actor text NOT NULL, created_at text NOT NULL,"
    " revoked boolean NOT NULL DEFAULT false)",
    "CREATE TABLE IF NOT EXISTS {schema}.documents ("
    " sha256 text PRIMARY KEY, media_type text NOT NULL, data bytea NOT NULL,"
    " added_at text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {schema}.log_cosignatures ("
    " size bigint NOT NULL, key_name text NOT NULL, key_id text NOT NULL,"
    " line text NOT NULL, added_at text NOT NULL, PRIMARY KEY (size, key_name, key_id))",
    "CREATE INDEX IF NOT EXISTS log_leaves_entry_hash_idx ON {schema}.log_leaves (entry_hash)",
    "CREATE TABLE IF NOT EXISTS {schema}.calendar_years ("
    " year integer PRIMARY KEY, data text NOT NULL, added_at text NOT NULL)",
)


# The append's two steps as server functions, so that each is one statement (and one round
# trip): the lock and every read under it; then every insert. Created by ``ledger init``.
_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION {schema}.ledger_lock_and_read("
    " streams uuid[], wanted_nonces text[],"
    " OUT size bigint, OUT last_recorded_at text,"
    " OUT head_ids uuid[], OUT head_seqs bigint[], OUT head_hashes bytea[],"
    " OUT seen_nonces text[],"
    " OUT edge_levels integer[], OUT edge_idxs bigint[], OUT edge_hashes bytea[])"
    " LANGUAGE plpgsql AS $BODY$"
    " BEGIN"
    "  SET LOCAL lock_timeout = '{lock_timeout}s';"
    "  LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE;"
    "  SELECT l.leaf_index + 1, l.recorded_at INTO size, last_recorded_at"
    "   FROM {schema}.log_leaves AS l ORDER BY l.leaf_index DESC LIMIT 1;"
    "  size := coalesce(size, 0);"
    "  SELECT array_agg(s.id), array_agg(h.originator_version), array_agg(h.entry_hash)"
    "   INTO head_ids, head_seqs, head_hashes"
    "   FROM unnest(streams) AS s(id) CROSS JOIN LATERAL ("
    "    SELECT l.originator_version, l.entry_hash FROM {schema}.log_leaves AS l"
    "    WHERE l.originator_id = s.id ORDER BY l.originator_version DESC LIMIT 1) AS h;"
    "  SELECT array_agg(l.nonce) INTO seen_nonces"
    "   FROM {schema}.log_leaves AS l WHERE l.nonce = ANY(wanted_nonces);"
    # The right edge at this size: one node per set bit of the size (merkle.root_nodes).
    "  SELECT array_agg(n.level), array_agg(n.idx), array_agg(n.hash)"
    "   INTO edge_levels, edge_idxs, edge_hashes"
    "   FROM generate_series(0, 62) AS g(level)"
    "   JOIN {schema}.log_nodes AS n ON n.level = g.level AND n.idx = (size >> g.level) - 1"
    "   WHERE (size >> g.level) & 1 = 1;"
    " END $BODY$",
    "CREATE OR REPLACE FUNCTION {schema}.ledger_write("
    " event_ids uuid[], event_seqs bigint[], event_topics text[], event_states bytea[],"
    " leaf_indexes bigint[], leaf_hashes bytea[], leaf_times text[], leaf_nonces text[],"
    " node_levels integer[], node_idxs bigint[], node_hashes bytea[],"
    " checkpoint_size bigint, checkpoint_root bytea, checkpoint_note text)"
    " RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$"
    " BEGIN"
    "  NOTIFY {channel};"
    # Each leaf takes its event's notification id from the row inserted with it (a join
    # of the two statements' rows, not a lookup in the events table); the ids come back in
    # the order given, which is the order the sequence issued them.
    "  RETURN QUERY WITH inserted AS ("
    "   INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state)"
    "   SELECT * FROM unnest(event_ids, event_seqs, event_topics, event_states)"
    "   RETURNING notification_id, originator_id, originator_version),"
    "  leaves AS ("
    "   INSERT INTO {schema}.log_leaves (leaf_index, originator_id, originator_version,"
    "    entry_hash, recorded_at, nonce, notification_id)"
    "   SELECT u.leaf_index, u.id, u.seq, u.entry_hash, u.recorded_at, u.nonce,"
    "    i.notification_id"
    "   FROM unnest(leaf_indexes, event_ids, event_seqs, leaf_hashes, leaf_times, leaf_nonces)"
    "    AS u(leaf_index, id, seq, entry_hash, recorded_at, nonce)"
    "   JOIN inserted AS i ON i.originator_id = u.id AND i.originator_version = u.seq"
    "   RETURNING notification_id)"
    "  SELECT l.notification_id FROM leaves AS l ORDER BY l.notification_id;"
    "  INSERT INTO {schema}.log_nodes (level, idx, hash)"
    "   SELECT * FROM unnest(node_levels, node_idxs, node_hashes);"
    "  IF checkpoint_note IS NOT NULL THEN"
    "   INSERT INTO {schema}.log_checkpoints (size, root, note)"
    "    VALUES (checkpoint_size, checkpoint_root, checkpoint_note)"
    "    ON CONFLICT (size) DO NOTHING;"
    "  END IF;"
    " END $BODY$",
    # The whole append as one statement (logwriter.write_predicted): lock, check that the
    # log is as the writer predicted, write. Returns no rows, having written nothing, if not.
    "CREATE OR REPLACE FUNCTION {schema}.ledger_write_if("
    " expected_size bigint, check_ids uuid[], check_seqs bigint[], check_hashes bytea[],"
    " wanted_nonces text[],"
    " event_ids uuid[], event_seqs bigint[], event_topics text[], event_states bytea[],"
    " leaf_indexes bigint[], leaf_hashes bytea[], leaf_times text[], leaf_nonces text[],"
    " node_levels integer[], node_idxs bigint[], node_hashes bytea[],"
    " checkpoint_size bigint, checkpoint_root bytea, checkpoint_note text)"
    " RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$"
    " DECLARE found_size bigint;"
    " BEGIN"
    "  SET LOCAL lock_timeout = '{lock_timeout}s';"
    "  LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE;"
    "  SELECT l.leaf_index + 1 INTO found_size"
    "   FROM {schema}.log_leaves AS l ORDER BY l.leaf_index DESC LIMIT 1;"
    "  IF coalesce(found_size, 0) <> expected_size THEN RETURN; END IF;"
    "  IF EXISTS (SELECT 1 FROM unnest(check_ids, check_seqs, check_hashes) AS c(id, seq, hash)"
    "   LEFT JOIN LATERAL (SELECT l.originator_version, l.entry_hash"
    "    FROM {schema}.log_leaves AS l WHERE l.originator_id = c.id"
    "    ORDER BY l.originator_version DESC LIMIT 1) AS h ON true"
    "   WHERE coalesce(h.originator_version, 0) <> c.seq"
    "    OR (c.hash IS NOT NULL AND h.entry_hash IS DISTINCT FROM c.hash)) THEN RETURN; END IF;"
    "  IF EXISTS (SELECT 1 FROM {schema}.log_leaves AS l WHERE l.nonce = ANY(wanted_nonces))"
    "   THEN RETURN; END IF;"
    "  RETURN QUERY SELECT * FROM {schema}.ledger_write(event_ids, event_seqs, event_topics,"
    "   event_states, leaf_indexes, leaf_hashes, leaf_times, leaf_nonces, node_levels,"
    "   node_idxs, node_hashes, checkpoint_size, checkpoint_root, checkpoint_note);"
    " END $BODY$",
)


class PostgresLogTransaction:
    """:class:`ledger.log.writer.LogTransaction` over one connection.

    Each step is one call of a server function (see ``_FUNCTIONS``), so an append costs four
    round trips (BEGIN, lock and reads, writes, COMMIT) however many streams and entries it
    touches. (psycopg's pipeline mode would save one, but costs more CPU than it saves.)
    """

    def __init__(self, recorder: PostgresLedgerRecorder, conn: Connection[DictRow]) -> None:
        self.recorder = recorder
        self.conn = conn

    def lock_and_read(self, streams: Sequence[str], nonces: Sequence[str]) -> LockedLog:
        """Lock, then read the log head, right edge, stream heads and used nonces."""
        curs = self.conn.cursor()
        curs.execute(self.recorder.lock_and_read_statement,
                     ([UUID(s) for s in streams], list(nonces)), prepare=True)
        row = curs.fetchone()
        assert row is not None  # a function with OUT parameters returns one row
        heads = zip(row["head_ids"] or (), row["head_seqs"] or (), row["head_hashes"] or (),
                    strict=True)
        edge = zip(row["edge_levels"] or (), row["edge_idxs"] or (), row["edge_hashes"] or (),
                   strict=True)
        return LockedLog(
            row["size"], row["last_recorded_at"],
            {str(stream): StreamHead(seq, bytes(digest)) for stream, seq, digest in heads},
            frozenset(row["seen_nonces"] or ()),
            {NodeId(level, index): bytes(digest) for level, index, digest in edge},
        )

    def write(self, events: Sequence[StoredEvent], leaves: Sequence[NewLeaf],
              nodes: Mapping[NodeId, bytes], checkpoint: tuple[int, bytes, str] | None,
              ) -> list[int]:
        """Every insert in one statement; returns the events' notification ids."""
        curs = self.conn.cursor(row_factory=tuple_row)
        curs.execute(self.recorder.write_statement,
                     _write_params(events, leaves, nodes, checkpoint), prepare=True)
        ids = [row[0] for row in curs.fetchall()]
        if len(ids) != len(events):
            raise IntegrityError(f"inserted {len(ids)} of {len(events)} events")
        return ids

    def write_if(self, expected: Expected, events: Sequence[StoredEvent],
                 leaves: Sequence[NewLeaf], nodes: Mapping[NodeId, bytes],
                 checkpoint: tuple[int, bytes, str] | None) -> list[int] | None:
        """Lock, check and write in one statement (autocommit: one round trip in all)."""
        curs = self.conn.cursor(row_factory=tuple_row)
        curs.execute(self.recorder.write_if_statement, (
            expected.size, [UUID(s) for s in expected.streams], expected.seqs,
            expected.hashes, list(expected.nonces),
            *_write_params(events, leaves, nodes, checkpoint)), prepare=True)
        ids = [row[0] for row in curs.fetchall()]
        if not ids:
            return None
        if len(ids) != len(events):
            raise IntegrityError(f"inserted {len(ids)} of {len(events)} events")
        return ids


def _write_params(events: Sequence[StoredEvent], leaves: Sequence[NewLeaf],
                  nodes: Mapping[NodeId, bytes], checkpoint: tuple[int, bytes, str] | None,
                  ) -> tuple[object, ...]:
    """``ledger_write``'s arguments: one array per column."""
    items = sorted(nodes.items())
    size, root, note = checkpoint if checkpoint is not None else (None, None, None)
    return ([e.originator_id for e in events], [e.originator_version for e in events],
            [e.topic for e in events], [e.state for e in events],
            [r.leaf_index for r in leaves], [r.entry_hash for r in leaves],
            [r.recorded_at for r in leaves], [r.nonce for r in leaves],
            [n.level for n, _ in items], [n.index for n, _ in items], [h for _, h in items],
            size, root, note)


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL application recorder whose inserts extend the Merkle log."""

    def __init__(self, datastore: PostgresDatastore, *, profile: Profile, sealer: Sealer,
                 sign_checkpoint: CheckpointSigner | None = None,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.profile = profile
        self.sealer = sealer
        self.sign_checkpoint = sign_checkpoint
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._rendered: dict[str, str] = {}
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.extend(SQL(text).format(schema=schema) for text in _TABLES)
        self.sql_create_statements.append(SQL(
            "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{events} (topic)").format(
            index=Identifier(f"{events_table_name}_topic_idx"), schema=schema,
            events=Identifier(events_table_name)))
        names = {"schema": schema, "events": Identifier(events_table_name),
                 "channel": Identifier(self.channel_name),
                 "lock_timeout": SQL(str(int(self.datastore.lock_timeout)))}
        self.sql_create_statements.extend(SQL(text).format(**names) for text in _FUNCTIONS)
        # Rendered once: composing SQL per call costs more CPU than the statement's round trip.
        # Binary parameters (%b): text arrays would be quoted element by element in Python.
        self.lock_and_read_statement = SQL(
            "SELECT * FROM {schema}.ledger_lock_and_read(%b::uuid[], %b::text[])").format(
            **names).as_string()
        write_args = SQL("%b::uuid[], %b::bigint[], %b::text[], %b::bytea[], %b::bigint[],"
                         " %b::bytea[], %b::text[], %b::text[], %b::integer[], %b::bigint[],"
                         " %b::bytea[], %b::bigint, %b::bytea, %b::text")
        self.write_statement = SQL("SELECT * FROM {schema}.ledger_write({args})").format(
            args=write_args, **names).as_string()
        self.write_if_statement = SQL(
            "SELECT * FROM {schema}.ledger_write_if(%b::bigint, %b::uuid[], %b::bigint[],"
            " %b::bytea[], %b::text[], {args})").format(args=write_args, **names).as_string()
        # What this process last saw of the log: appends predict from it (one statement)
        # and fall back to the locked read when another writer got there first.
        self._known: KnownLog | None = None
        self._predicting = True
        self._known_lock = threading.Lock()
        self.predicted_appends = 0  # how many appends took one statement (tests, metrics)

    def _sql(self, text: str) -> str:
        """A statement with the schema and events table filled in, rendered once per text
        (composing it on every call cost more CPU than a proof's query)."""
        rendered = self._rendered.get(text)
        if rendered is None:
            rendered = SQL(text).format(
                schema=Identifier(self.datastore.schema),
                events=Identifier(self.events_table_name)).as_string()
            self._rendered[text] = rendered
        return rendered

    # --- writes ----------------------------------------------------------------------------

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def append(self, events: Sequence[StoredEvent],
               expected_heads: Mapping[str, int] | None = None,
               pending: Sequence[PendingEntry] | None = None) -> BatchOutcome:
        """Group commit in one transaction; see :func:`ledger.log.writer.write_batch`."""
        if not events:
            return BatchOutcome(tree_size=self.tree_size())
        with self._known_lock:
            known = None if self._known is None else KnownLog(
                self._known.size, self._known.last_recorded_at, self._known.right_edge,
                self._known.heads)  # the heads are only read; each is checked under the lock
        with self.datastore.get_connection() as conn:
            tx = PostgresLogTransaction(self, conn)
            outcome = None
            if known is not None and self._predicting:
                try:
                    outcome = write_predicted(
                        tx, events, known, sealer=self.sealer, profile=self.profile,
                        sign_checkpoint=self.sign_checkpoint, expected_heads=expected_heads,
                        clock=self.clock, pending=pending)
                except PsycopgIntegrityError:
                    outcome = None  # nothing was written: the locked path says what is wrong
                except UndefinedFunction:  # a database set up by an older version
                    self._predicting = False
                    _log.warning("ledger_write_if is missing: run `ledger init` (idempotent)"
                                 " to install it; appending with the locked read meanwhile")
            if outcome is not None:
                self.predicted_appends += 1
            else:
                with conn.transaction():
                    outcome = write_batch(
                        tx, events, sealer=self.sealer, profile=self.profile,
                        sign_checkpoint=self.sign_checkpoint, expected_heads=expected_heads,
                        clock=self.clock, pending=pending)
        with self._known_lock:
            if self._known is None:
                self._known = KnownLog.after(outcome)
            else:
                self._known.learn(outcome)
        return outcome

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

    # --- reads -----------------------------------------------------------------------------

    def _nodes(self, curs: Cursor[tuple[Any, ...]], ids: Collection[NodeId],
               ) -> dict[NodeId, bytes]:
        if not ids:
            return {}
        wanted = sorted(ids)
        curs.execute(self._sql(
            "SELECT n.level, n.idx, n.hash FROM {schema}.log_nodes AS n"
            " JOIN unnest(%b::integer[], %b::bigint[]) AS w(level, idx)"
            " ON n.level = w.level AND n.idx = w.idx"),
            ([n.level for n in wanted], [n.index for n in wanted]), prepare=True)
        return {NodeId(level, index): digest for level, index, digest in curs.fetchall()}

    def _one(self, text: str, params: Sequence[object] = ()) -> DictRow | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql(text), params, prepare=True)
            return curs.fetchone()

    @staticmethod
    def _leaf(row: Mapping[str, Any] | None) -> LeafRow | None:
        if row is None:
            return None
        return LeafRow(row["leaf_index"], row["originator_id"], row["originator_version"],
                       bytes(row["entry_hash"]), row["recorded_at"], row["nonce"],
                       row["notification_id"])

    def tree_size(self) -> int:
        """Number of leaves."""
        row = self._one("SELECT COALESCE(MAX(leaf_index) + 1, 0) AS n FROM {schema}.log_leaves")
        return int(row["n"]) if row else 0

    def nodes(self, ids: Collection[NodeId]) -> dict[NodeId, bytes]:
        """Stored nodes by id, one query."""
        # Binary tuple rows: a proof's nodes arrive as bytes, with no per-row dict.
        with self.datastore.get_connection() as conn, conn.cursor(
                binary=True, row_factory=tuple_row) as curs:
            return self._nodes(curs, ids)

    def leaf(self, leaf_index: int) -> LeafRow | None:
        """The leaf at an index."""
        return self._leaf(self._one(
            "SELECT * FROM {schema}.log_leaves WHERE leaf_index = %s", (leaf_index,)))

    def leaf_for(self, stream: UUID, seq: int) -> LeafRow | None:
        """The leaf of (stream, seq)."""
        return self._leaf(self._one(
            "SELECT * FROM {schema}.log_leaves WHERE originator_id = %s"
            " AND originator_version = %s", (stream, seq)))

    def stream_head_leaf(self, stream: UUID, recorded_by: str | None = None) -> LeafRow | None:
        """The newest leaf of a stream (recorded at or before ``recorded_by``, if given)."""
        return self._leaf(self._one(
            "SELECT * FROM {schema}.log_leaves WHERE originator_id = %s AND recorded_at <= %s"
            " ORDER BY originator_version DESC LIMIT 1", (stream, recorded_by or END_OF_TIME)))

    def leaf_for_nonce(self, nonce: str) -> LeafRow | None:
        """The leaf of a nonce."""
        return self._leaf(self._one(
            "SELECT * FROM {schema}.log_leaves WHERE nonce = %s", (nonce,)))

    def iter_log(self, start: int = 0, stop: int | None = None,
                 batch: int = 2000) -> Iterator[tuple[LeafRow, StoredEvent | None]]:
        """Leaves in order joined with their stored events, in pages."""
        position = start
        while stop is None or position < stop:
            upper = position + batch if stop is None else min(position + batch, stop)
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self._sql(
                    "SELECT l.*, e.topic, e.state FROM {schema}.log_leaves AS l"
                    " LEFT JOIN {schema}.{events} AS e ON e.originator_id = l.originator_id"
                    " AND e.originator_version = l.originator_version"
                    " WHERE l.leaf_index >= %s AND l.leaf_index < %s ORDER BY l.leaf_index"),
                    (position, upper))
                rows = curs.fetchall()
            if not rows:
                return
            for row in rows:
                leaf = cast(LeafRow, self._leaf(row))
                event = None if row["state"] is None else StoredEvent(
                    row["originator_id"], row["originator_version"], row["topic"],
                    bytes(row["state"]))
                yield leaf, event
            position = upper

    def iter_nodes(self) -> Iterator[tuple[NodeId, bytes]]:
        """Every stored Merkle node (streamed with a server-side cursor)."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor(
            name="ledger_nodes"
        ) as curs:
            curs.itersize = 5000
            curs.execute(self._sql("SELECT level, idx, hash FROM {schema}.log_nodes"))
            for row in curs:
                yield NodeId(row["level"], row["idx"]), bytes(row["hash"])

    def stream_ids(self) -> list[UUID]:
        """Every stream in the order it was opened."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql("SELECT originator_id FROM {schema}.log_leaves"
                                   " WHERE originator_version = 1 ORDER BY leaf_index"))
            return [row["originator_id"] for row in curs.fetchall()]

    def streams_with_topics(self, topics: Sequence[str]) -> list[UUID]:
        """Streams having at least one event of the given types (indexed by topic)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql("SELECT DISTINCT originator_id FROM {schema}.{events}"
                                   " WHERE topic = ANY(%s)"), (list(topics),), prepare=True)
            return sorted(row["originator_id"] for row in curs.fetchall())

    def count_events(self) -> int:
        """Number of stored event rows."""
        row = self._one("SELECT COUNT(*) AS n FROM {schema}.{events}")
        return int(row["n"]) if row else 0

    @staticmethod
    def _checkpoint(row: Mapping[str, Any] | None) -> StoredCheckpoint | None:
        if row is None:
            return None
        return StoredCheckpoint(row["size"], bytes(row["root"]), row["note"])

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The largest checkpoint."""
        return self._checkpoint(self._one(
            "SELECT * FROM {schema}.log_checkpoints ORDER BY size DESC LIMIT 1"))

    def checkpoint_at_most(self, size: int) -> StoredCheckpoint | None:
        """The largest checkpoint not beyond ``size``."""
        return self._checkpoint(self._one(
            "SELECT * FROM {schema}.log_checkpoints WHERE size <= %s ORDER BY size DESC"
            " LIMIT 1", (size,)))

    def iter_checkpoints(self) -> Iterator[StoredCheckpoint]:
        """All checkpoints by size."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql("SELECT * FROM {schema}.log_checkpoints ORDER BY size"))
            rows = curs.fetchall()
        for row in rows:
            yield cast(StoredCheckpoint, self._checkpoint(row))

    def get_meta(self, key: str) -> str | None:
        """A metadata value."""
        row = self._one("SELECT value FROM {schema}.ledger_meta WHERE key = %s", (key,))
        return None if row is None else str(row["value"])

    def put_meta(self, key: str, value: str) -> None:
        """Set a metadata value once."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql(
                "INSERT INTO {schema}.ledger_meta (key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO NOTHING"), (key, value))
        stored = self.get_meta(key)
        if stored != value:
            raise IntegrityError(f"ledger metadata {key!r} is already {stored!r}")

    def put_custody(self, record: CustodyRecord) -> None:
        """Store a sealed private key."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql(
                "INSERT INTO {schema}.key_custody (key_id, actor, sealed) VALUES (%s, %s, %s)"),
                (record.key_id, record.actor, record.sealed))

    def get_custody(self, key_id: str) -> CustodyRecord | None:
        """A sealed private key."""
        row = self._one("SELECT * FROM {schema}.key_custody WHERE key_id = %s", (key_id,))
        return None if row is None else CustodyRecord(
            row["key_id"], row["actor"], bytes(row["sealed"]))

    def put_token(self, token_hash: str, actor: str, created_at: str) -> None:
        """Store an API token's hash (the token itself is shown once and never stored)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql(
                "INSERT INTO {schema}.api_tokens (token_hash, actor, created_at)"
                " VALUES (%s, %s, %s)"), (token_hash, actor, created_at))

    def actor_for_token(self, token_hash: str) -> str | None:
        """The actor of a live token."""
        row = self._one("SELECT actor FROM {schema}.api_tokens WHERE token_hash = %s"
                        " AND NOT revoked", (token_hash,))
        return None if row is None else str(row["actor"])

    def revoke_tokens(self, actor: str) -> int:
        """Revoke every token of an actor; effective on the next request."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql("UPDATE {schema}.api_tokens SET revoked = true"
                                   " WHERE actor = %s AND NOT revoked"), (actor,))
            return curs.rowcount

    def put_calendar_year(self, year: int, data: str, added_at: str) -> None:
        """Store (or replace) an operator-added holiday year."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql(
                "INSERT INTO {schema}.calendar_years (year, data, added_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (year) DO UPDATE SET data = excluded.data,"
                " added_at = excluded.added_at"), (year, data, added_at))

    def calendar_years(self) -> list[str]:
        """Operator-added holiday years (year-file JSON), by year."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql("SELECT data FROM {schema}.calendar_years ORDER BY year"))
            return [str(row["data"]) for row in curs.fetchall()]

    def put_document(self, document: Document) -> None:
        """Store a document (idempotent: the hash names the content)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql(
                "INSERT INTO {schema}.documents (sha256, media_type, data, added_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING"),
                (document.sha256, document.media_type, document.data, document.added_at))

    def get_document(self, sha256: str) -> Document | None:
        """A stored document."""
        row = self._one("SELECT * FROM {schema}.documents WHERE sha256 = %s", (sha256,))
        return None if row is None else Document(row["sha256"], row["media_type"],
                                                 bytes(row["data"]), row["added_at"])

    def existing_documents(self, hashes: Sequence[str]) -> set[str]:
        """Those of ``hashes`` that are stored."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql("SELECT sha256 FROM {schema}.documents"
                                   " WHERE sha256 = ANY(%s)"), (list(hashes),))
            return {str(row["sha256"]) for row in curs.fetchall()}

    def close(self) -> None:
        """Close the pool."""
        self.datastore.close()

    # --- evidence: witness cosignatures and entry-hash lookups ------------------------------
    # Created on first use (they came after `ledger init` existed), idempotently.

    def put_cosignature(self, size: int, key_name: str, key_id: str, line: str,
                        added_at: str) -> None:
        """Store (or replace) a witness's cosignature line for the checkpoint of ``size``."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql(
                "INSERT INTO {schema}.log_cosignatures (size, key_name, key_id, line, added_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (size, key_name, key_id)"
                " DO UPDATE SET line = excluded.line, added_at = excluded.added_at"),
                (size, key_name, key_id, line, added_at))

    def cosignatures(self, size: int) -> list[str]:
        """The stored cosignature lines of the checkpoint of ``size``, by key name and id."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql("SELECT line FROM {schema}.log_cosignatures WHERE size = %s"
                                   " ORDER BY key_name, key_id"), (size,))
            return [str(row["line"]) for row in curs.fetchall()]

    def leaf_for_hash(self, entry_hash: bytes) -> LeafRow | None:
        """The first leaf whose entry hash is ``entry_hash`` (indexed)."""
        return self._leaf(self._one(
            "SELECT * FROM {schema}.log_leaves WHERE entry_hash = %s"
            " ORDER BY leaf_index LIMIT 1", (entry_hash,)))
