"""The PostgreSQL recorder: eventsourcing's application recorder plus the log tables.

Appends take the events table's EXCLUSIVE lock (as the library does for notification ids) and,
under it, assign dense leaf indexes, Merkle nodes and a checkpoint in the same transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
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
from psycopg.sql import SQL, Composed, Identifier, Literal

from ledger.crypto.suites import Profile
from ledger.log.entries import PendingEntry
from ledger.log.heads import CATCH_UP_LEAVES, CurrentHeads, HeadRow, HeadsUpdate
from ledger.log.merkle import NodeId
from ledger.log.sealing import Sealer, StreamHead
from ledger.log.store import StoredCheckpoint
from ledger.log.writer import (
    BatchOutcome,
    CheckpointSigner,
    Expected,
    KnownLog,
    LockedLog,
    NewLeaf,
    write_batch,
    write_predicted,
)
from ledger.store._sql import (
    TABLE_NAMES,
    Dialect,
    NamedStoredRows,
    SQLLogStore,
    SQLSnapshot,
    _blob,
    create_statements,
)
from ledger.store._sql import Cursor as LockedCursor

_log = logging.getLogger("ledger.store")


def _dialect(schema: str, events_table: str) -> Dialect:
    """PostgreSQL's spelling of the shared statements: its types, schema-qualified quoted
    table names, one array parameter for a list."""
    def quoted(name: str) -> str:
        return Identifier(name).as_string()

    return Dialect({
        "p": "%s", "smallint": "smallint", "int": "integer", "bigint": "bigint",
        "bytes": "bytea", "text": "text",
        "uuid": "uuid", "bool": "boolean", "true": "true", "false": "false",
        "without_rowid": "", "insert_or_ignore": "INSERT",
        "on_conflict_ignore": " ON CONFLICT DO NOTHING", "notification_id": "notification_id",
        "document_altered": "encode(sha256(data), 'hex') IS DISTINCT FROM sha256",
        **{name: f"{quoted(schema)}.{name}" for name in TABLE_NAMES},
        "events": f"{quoted(schema)}.{quoted(events_table)}",
        "topic_idx": quoted(f"{events_table}_topic_idx"),
    }, arrays=True)

# The append's two steps as server functions, so that each is one statement (and one round
# trip): the lock and every read under it; then every insert. Created by ``ledger init``.
# The stream heads map added parameters to all three; a function's identity is its name and
# argument types, so ``CREATE OR REPLACE`` would have added overloads beside the old ones:
# ``ledger init`` drops the old signatures first (a process still running the old code then
# fails to append instead of appending without the map).
_OLD_FUNCTIONS = (
    "DROP FUNCTION IF EXISTS {schema}.ledger_write_if(bigint, uuid[], bigint[], bytea[],"
    " text[], uuid[], bigint[], text[], bytea[], bigint[], bytea[], text[], text[], integer[],"
    " bigint[], bytea[], bigint, bytea, text)",
    "DROP FUNCTION IF EXISTS {schema}.ledger_write(uuid[], bigint[], text[], bytea[],"
    " bigint[], bytea[], text[], text[], integer[], bigint[], bytea[], bigint, bytea, text)",
    "DROP FUNCTION IF EXISTS {schema}.ledger_lock_and_read(uuid[], text[])",
    # The heads map's rows as three arrays (its first version, never released).
    "DROP FUNCTION IF EXISTS {schema}.ledger_write_if(bigint, uuid[], bigint[], bytea[],"
    " text[], uuid[], bigint[], text[], bytea[], bigint[], bytea[], text[], text[], integer[],"
    " bigint[], bytea[], bigint, bytea, text, bigint, smallint[], bytea[], bytea[])",
    "DROP FUNCTION IF EXISTS {schema}.ledger_write(uuid[], bigint[], text[], bytea[],"
    " bigint[], bytea[], text[], text[], integer[], bigint[], bytea[], bigint, bytea, text,"
    " bigint, smallint[], bytea[], bytea[])",
)
_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION {schema}.ledger_lock_and_read("
    " streams uuid[], wanted_nonces text[], map_version bigint, map_gap bigint,"
    " OUT size bigint, OUT last_recorded_at text,"
    " OUT head_ids uuid[], OUT head_seqs bigint[], OUT head_hashes bytea[],"
    " OUT seen_nonces text[],"
    " OUT edge_levels integer[], OUT edge_idxs bigint[], OUT edge_hashes bytea[],"
    " OUT map_behind boolean, OUT map_versions bigint[], OUT map_depths smallint[],"
    " OUT map_prefixes bytea[], OUT map_nodes bytea[])"
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
    # The heads map's node versions other processes wrote since the caller's map (none in
    # the usual case: one index probe); not read at all if it is too far behind.
    "  map_behind := size - map_version > map_gap;"
    "  IF size > map_version AND NOT map_behind THEN"
    "   SELECT array_agg(h.version), array_agg(h.depth), array_agg(h.prefix), array_agg(h.node)"
    "    INTO map_versions, map_depths, map_prefixes, map_nodes"
    "    FROM (SELECT n.version, n.depth, n.prefix, n.node FROM {schema}.head_nodes AS n"
    "     WHERE n.version > map_version ORDER BY n.version, n.depth, n.prefix) AS h;"
    "  END IF;"
    " END $BODY$",
    "CREATE OR REPLACE FUNCTION {schema}.ledger_write("
    " event_ids uuid[], event_seqs bigint[], event_topics text[], event_states bytea[],"
    " leaf_indexes bigint[], leaf_hashes bytea[], leaf_times text[], leaf_nonces text[],"
    " node_levels integer[], node_idxs bigint[], node_hashes bytea[],"
    " checkpoint_size bigint, checkpoint_root bytea, checkpoint_note text,"
    " map_version bigint, map_rows bytea[])"
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
    "   RETURNING notification_id),"
    # The Merkle nodes, the heads map's rows and the checkpoint go in the same statement (a
    # data-modifying WITH runs whether or not it is read): a statement of their own cost more
    # than their rows (measured: about 100 µs each on a one-filing append).
    "  nodes AS ("
    "   INSERT INTO {schema}.log_nodes (level, idx, hash)"
    "   SELECT * FROM unnest(node_levels, node_idxs, node_hashes)),"
    # Each of map_rows is depth (2 bytes) ‖ prefix (ceil(depth / 8) bytes) ‖ node: one array
    # rather than three, as the client spends more on each array parameter than the server
    # does cutting these.
    "  heads AS ("
    "   INSERT INTO {schema}.head_nodes (depth, prefix, version, node)"
    "   SELECT u.depth, substring(u.r FROM 3 FOR (u.depth + 7) / 8), map_version,"
    "    substring(u.r FROM 3 + (u.depth + 7) / 8)"
    "   FROM (SELECT (get_byte(t.r, 0) << 8 | get_byte(t.r, 1))::smallint, t.r"
    "    FROM unnest(map_rows) AS t(r)) AS u(depth, r)),"
    "  checkpoint AS ("
    "   INSERT INTO {schema}.log_checkpoints (size, root, note)"
    "   SELECT checkpoint_size, checkpoint_root, checkpoint_note"
    "   WHERE checkpoint_note IS NOT NULL ON CONFLICT (size) DO NOTHING)"
    "  SELECT l.notification_id FROM leaves AS l ORDER BY l.notification_id;"
    " END $BODY$",
    # The whole append as one statement (logwriter.write_predicted): lock, check that the
    # log is as the writer predicted, write. Returns no rows, having written nothing, if not.
    "CREATE OR REPLACE FUNCTION {schema}.ledger_write_if("
    " expected_size bigint, check_ids uuid[], check_seqs bigint[], check_hashes bytea[],"
    " wanted_nonces text[],"
    " event_ids uuid[], event_seqs bigint[], event_topics text[], event_states bytea[],"
    " leaf_indexes bigint[], leaf_hashes bytea[], leaf_times text[], leaf_nonces text[],"
    " node_levels integer[], node_idxs bigint[], node_hashes bytea[],"
    " checkpoint_size bigint, checkpoint_root bytea, checkpoint_note text,"
    " map_version bigint, map_rows bytea[])"
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
    "   node_idxs, node_hashes, checkpoint_size, checkpoint_root, checkpoint_note,"
    "   map_version, map_rows);"
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

    def lock_and_read(self, streams: Sequence[str], nonces: Sequence[str],
                      heads_version: int) -> LockedLog:
        """Lock, then read the log head, right edge, stream heads, used nonces and the heads
        map's node versions since ``heads_version``."""
        curs = self.conn.cursor()
        curs.execute(self.recorder.lock_and_read_statement,
                     ([UUID(s) for s in streams], list(nonces), heads_version,
                      CATCH_UP_LEAVES), prepare=True)
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
            _head_rows(row),
        )

    def write(self, events: Sequence[StoredEvent], leaves: Sequence[NewLeaf],
              nodes: Mapping[NodeId, bytes], checkpoint: tuple[int, bytes, str] | None,
              heads: HeadsUpdate) -> list[int]:
        """Every insert in one statement; returns the events' notification ids."""
        curs = self.conn.cursor(row_factory=tuple_row)
        curs.execute(self.recorder.write_statement,
                     _write_params(events, leaves, nodes, checkpoint, heads), prepare=True)
        ids = [row[0] for row in curs.fetchall()]
        if len(ids) != len(events):
            raise IntegrityError(f"inserted {len(ids)} of {len(events)} events")
        return ids

    def write_if(self, expected: Expected, events: Sequence[StoredEvent],
                 leaves: Sequence[NewLeaf], nodes: Mapping[NodeId, bytes],
                 checkpoint: tuple[int, bytes, str] | None, *,
                 heads: HeadsUpdate) -> list[int] | None:
        """Lock, check and write in one statement (autocommit: one round trip in all)."""
        curs = self.conn.cursor(row_factory=tuple_row)
        curs.execute(self.recorder.write_if_statement, (
            expected.size, [UUID(s) for s in expected.streams], expected.seqs,
            expected.hashes, list(expected.nonces),
            *_write_params(events, leaves, nodes, checkpoint, heads)), prepare=True)
        ids = [row[0] for row in curs.fetchall()]
        if not ids:
            return None
        if len(ids) != len(events):
            raise IntegrityError(f"inserted {len(ids)} of {len(events)} events")
        return ids


def _snapshot_rows(conn: Connection[DictRow], query: str, params: Sequence[object],
                   ) -> list[tuple[Any, ...]]:
    """One read as binary tuples, in whatever transaction ``conn`` is in."""
    with conn.cursor(binary=True, row_factory=tuple_row) as curs:
        curs.execute(query, params)
        return curs.fetchall()


def _head_rows(row: DictRow) -> list[HeadRow] | None:
    """The heads map's node versions ``ledger_lock_and_read`` returned (None: not read)."""
    if row["map_behind"]:
        return None
    return [(version, depth, bytes(prefix), bytes(node)) for version, depth, prefix, node in zip(
        row["map_versions"] or (), row["map_depths"] or (), row["map_prefixes"] or (),
        row["map_nodes"] or (), strict=True)]


def _write_params(events: Sequence[StoredEvent], leaves: Sequence[NewLeaf],
                  nodes: Mapping[NodeId, bytes], checkpoint: tuple[int, bytes, str] | None,
                  heads: HeadsUpdate) -> tuple[object, ...]:
    """``ledger_write``'s arguments: one array per column."""
    items = sorted(nodes.items())
    size, root, note = checkpoint if checkpoint is not None else (None, None, None)
    return ([e.originator_id for e in events], [e.originator_version for e in events],
            [e.topic for e in events], [e.state for e in events],
            [r.leaf_index for r in leaves], [r.entry_hash for r in leaves],
            [r.recorded_at for r in leaves], [r.nonce for r in leaves],
            [n.level for n, _ in items], [n.index for n, _ in items], [h for _, h in items],
            size, root, note, heads.version, heads.packed())


class PostgresLedgerRecorder(NamedStoredRows, SQLLogStore[PostgresDatastore],
                             PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL application recorder whose inserts extend the Merkle log."""

    def __init__(self, datastore: PostgresDatastore, *, profile: Profile, sealer: Sealer,
                 sign_checkpoint: CheckpointSigner | None = None,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        dialect = _dialect(self.datastore.schema, events_table_name)
        self._init_ledger(dialect, profile=profile, sealer=sealer,
                          sign_checkpoint=sign_checkpoint)
        # DISTINCT ON over the leaves below N: 1.4 s at 10^6 leaves, against 3.2 s for the
        # portable window function.
        self.sql = dataclasses.replace(self.sql, stream_heads_below=dialect.render(
            "SELECT DISTINCT ON (originator_id) originator_id, originator_version, entry_hash,"
            " leaf_index FROM {log_leaves} WHERE leaf_index < {p}"
            " ORDER BY originator_id, originator_version DESC"),
            # A version's rows as one row of arrays (the aggregates of a group see its rows in
            # one order, so the arrays are parallel), for ledger verify's read of every row of
            # the map: half the client's CPU of a row per group, the server's about the same.
            head_groups_between=dialect.render(
                "SELECT version, array_agg(depth), array_agg(prefix), array_agg(node)"
                " FROM {head_nodes} WHERE version > {p} AND version <= {p}"
                " GROUP BY version ORDER BY version"),
            # The same rows as one value a version (verify_heads.pack_groups' bytes), which
            # verify compares whole with the version it recomputed: one bytes object a
            # version for the client, not three arrays of a hundred.
            head_packed_between=dialect.render(
                "SELECT version, count(*), string_agg(int2send(depth)"
                " || int4send(length(prefix)) || prefix || int4send(length(node)) || node,"
                " ''::bytea ORDER BY depth, prefix)"
                " FROM {head_nodes} WHERE version > {p} AND version <= {p}"
                " GROUP BY version ORDER BY version"),
            head_column_types=dialect.render(
                "SELECT pg_typeof(depth)::text, pg_typeof(prefix)::text, pg_typeof(node)::text"
                " FROM {head_nodes} LIMIT 1"))
        self.sql_create_statements.extend(Composed([SQL(text)])
                                          for text in create_statements(dialect))
        names = {"schema": Identifier(self.datastore.schema),
                 "events": Identifier(events_table_name),
                 "channel": Identifier(self.channel_name),
                 "lock_timeout": SQL(str(int(self.datastore.lock_timeout)))}
        self.sql_create_statements.extend(SQL(text).format(**names)
                                          for text in (*_OLD_FUNCTIONS, *_FUNCTIONS))
        # Rendered once: composing SQL per call costs more CPU than the statement's round trip.
        # Binary parameters (%b): text arrays would be quoted element by element in Python.
        self.lock_and_read_statement = SQL(
            "SELECT * FROM {schema}.ledger_lock_and_read(%b::uuid[], %b::text[], %b::bigint,"
            " %b::bigint)").format(**names).as_string()
        write_args = SQL("%b::uuid[], %b::bigint[], %b::text[], %b::bytea[], %b::bigint[],"
                         " %b::bytea[], %b::text[], %b::text[], %b::integer[], %b::bigint[],"
                         " %b::bytea[], %b::bigint, %b::bytea, %b::text, %b::bigint,"
                         " %b::bytea[]")
        self.write_statement = SQL("SELECT * FROM {schema}.ledger_write({args})").format(
            args=write_args, **names).as_string()
        self.write_if_statement = SQL(
            "SELECT * FROM {schema}.ledger_write_if(%b::bigint, %b::uuid[], %b::bigint[],"
            " %b::bytea[], %b::text[], {args})").format(args=write_args, **names).as_string()
        self._nodes_statement = SQL(
            "SELECT n.level, n.idx, n.hash FROM {schema}.log_nodes AS n"
            " JOIN unnest(%b::integer[], %b::bigint[]) AS w(level, idx)"
            " ON n.level = w.level AND n.idx = w.idx").format(**names).as_string()
        # A proof's path: for each (depth, prefix), the row with the largest version <= N.
        self._head_path_statement = SQL(
            "SELECT w.depth, h.node FROM unnest(%b::smallint[], %b::bytea[]) AS w(depth, prefix)"
            " CROSS JOIN LATERAL (SELECT n.node FROM {schema}.head_nodes AS n"
            " WHERE n.depth = w.depth AND n.prefix = w.prefix AND n.version <= %b::bigint"
            " ORDER BY n.version DESC LIMIT 1) AS h").format(**names).as_string()
        # The newest checkpoint and a proof's path at its size, in one statement.
        self._latest_path_statement = SQL(
            "WITH c AS (SELECT size, root, note FROM {schema}.log_checkpoints"
            " ORDER BY size DESC LIMIT 1)"
            " SELECT c.size, c.root, c.note, w.depth, (SELECT n.node FROM {schema}.head_nodes"
            " AS n WHERE n.depth = w.depth AND n.prefix = w.prefix AND n.version <= c.size"
            " ORDER BY n.version DESC LIMIT 1)"
            " FROM c CROSS JOIN unnest(%b::smallint[], %b::bytea[]) AS w(depth, prefix)"
        ).format(**names).as_string()
        self._lock_statement = SQL(
            "SET LOCAL lock_timeout = '{lock_timeout}s';"
            " LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE").format(**names).as_string()
        # What this process last saw of the log: appends predict from it (one statement)
        # and fall back to the locked read when another writer got there first.
        self._known: KnownLog | None = None
        self._predicting = True
        self._known_lock = threading.Lock()
        self.predicted_appends = 0  # how many appends took one statement (tests, metrics)

    def create_table(self) -> None:
        """Create every table and function, then start the heads map if there is none (or
        convert one stored in the first layout to node groups)."""
        super().create_table()
        self._start_heads_map()
        self._convert_heads_layout()

    # --- writes ----------------------------------------------------------------------------

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def append(self, events: Sequence[StoredEvent],
               expected_heads: Mapping[str, int] | None = None,
               pending: Sequence[PendingEntry] | None = None) -> BatchOutcome:
        """Group commit in one transaction; see :func:`ledger.log.writer.write_batch`."""
        if not events:
            return BatchOutcome(tree_size=self.tree_size())
        return self._append_with_heads(
            lambda heads: self._append(events, expected_heads, pending, heads))

    def _append(self, events: Sequence[StoredEvent], expected_heads: Mapping[str, int] | None,
                pending: Sequence[PendingEntry] | None, heads: CurrentHeads) -> BatchOutcome:
        """One statement if the prediction holds, else the locked read and write; committed
        when this returns."""
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
                        sign_checkpoint=self.sign_checkpoint, heads=heads,
                        expected_heads=expected_heads, clock=self.clock, pending=pending)
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
                        sign_checkpoint=self.sign_checkpoint, heads=heads,
                        expected_heads=expected_heads, clock=self.clock, pending=pending)
        with self._known_lock:
            if self._known is None:
                self._known = KnownLog.after(outcome)
            else:
                self._known.learn(outcome)
        return outcome

    # --- running the shared statements (ledger.store._sql) ---------------------------------
    # Pooled autocommit connections: a write is its own transaction. Stream ids go in and
    # come out as UUIDs (the columns are uuid), as SQLBackend's conversions assume.

    def _one(self, query: str, params: Sequence[object] = ()) -> DictRow | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, params, prepare=True)
            return curs.fetchone()

    def _all(self, query: str, params: Sequence[object] = (), *,
             prepare: bool | None = None) -> list[DictRow]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, params, prepare=prepare)
            return curs.fetchall()

    def _run(self, query: str, params: Sequence[object]) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, params)
            return curs.rowcount

    def _tuples(self, query: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn, conn.cursor(
                binary=True, row_factory=tuple_row) as curs:
            curs.execute(query, params, prepare=True)
            return curs.fetchall()

    @contextmanager
    def snapshot(self) -> Iterator[SQLSnapshot]:
        """One ``REPEATABLE READ`` read-only transaction for as long as the block runs: every
        read sees the database as of the transaction's first statement. Reads from another
        thread (``ledger verify`` reads the tree on one) run on a connection of their own
        that imports the same snapshot (``SET TRANSACTION SNAPSHOT``), so all of them see one
        log while the reads still run side by side."""
        with self.datastore.get_connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                # The reader may pause between reads (workers busy, the checks after the
                # pass) longer than the pool's idle-in-transaction timeout.
                conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
                row = conn.execute("SELECT pg_export_snapshot() AS id").fetchone()
                assert row is not None
                exported, owner = str(row["id"]), threading.get_ident()

                def rows(query: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
                    if threading.get_ident() == owner:
                        return _snapshot_rows(conn, query, params)
                    with self.datastore.get_connection() as other:
                        other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                        try:
                            other.execute(SQL("SET TRANSACTION SNAPSHOT {}").format(
                                Literal(exported)))
                            return _snapshot_rows(other, query, params)
                        finally:
                            other.execute("ROLLBACK")

                yield SQLSnapshot(self, rows)
            finally:
                conn.execute("ROLLBACK")

    @contextmanager
    def _locked(self) -> Iterator[LockedCursor]:
        """A transaction holding the events table's EXCLUSIVE lock, as an append takes it."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor(
                row_factory=tuple_row) as curs:
            curs.execute(self._lock_statement)
            yield curs

    def _head_path(self, positions: Sequence[tuple[int, bytes]], version: int,
                   ) -> dict[int, bytes]:
        """One statement: a lateral backward seek of the primary key per position."""
        with self.datastore.get_connection() as conn, conn.cursor(
                binary=True, row_factory=tuple_row) as curs:
            curs.execute(self._head_path_statement, ([depth for depth, _ in positions],
                                                     [prefix for _, prefix in positions],
                                                     version), prepare=True)
            return {depth: bytes(node) for depth, node in curs.fetchall()}

    def _latest_and_path(self, positions: Sequence[tuple[int, bytes]],
                         ) -> tuple[StoredCheckpoint, dict[int, bytes]] | None:
        """One statement: the newest checkpoint, and a lateral backward seek per position at
        its size (a head proof at the newest checkpoint in one round trip)."""
        with self.datastore.get_connection() as conn, conn.cursor(
                binary=True, row_factory=tuple_row) as curs:
            curs.execute(self._latest_path_statement, ([depth for depth, _ in positions],
                                                       [prefix for _, prefix in positions]),
                         prepare=True)
            rows = curs.fetchall()
        if not rows:
            return None
        size, root, note = rows[0][:3]
        return (StoredCheckpoint(size, bytes(root), note),
                {depth: bytes(node) for *_, depth, node in rows if node is not None})

    # --- Merkle nodes ----------------------------------------------------------------------

    def _nodes(self, curs: Cursor[tuple[Any, ...]], ids: Collection[NodeId],
               ) -> dict[NodeId, bytes]:
        if not ids:
            return {}
        wanted = sorted(ids)
        curs.execute(self._nodes_statement,
                     ([n.level for n in wanted], [n.index for n in wanted]), prepare=True)
        return {NodeId(level, index): digest if type(digest) is bytes
                else _blob(digest, f"the stored Merkle node at level {level}, index {index}")
                for level, index, digest in curs.fetchall()}

    def nodes(self, ids: Collection[NodeId]) -> dict[NodeId, bytes]:
        """Stored nodes by id, one query."""
        # Binary tuple rows: a proof's nodes arrive as bytes, with no per-row dict.
        with self.datastore.get_connection() as conn, conn.cursor(
                binary=True, row_factory=tuple_row) as curs:
            return self._nodes(curs, ids)

    def iter_nodes(self) -> Iterator[tuple[NodeId, bytes]]:
        """Every stored Merkle node (streamed with a server-side cursor)."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor(
            name="ledger_nodes"
        ) as curs:
            curs.itersize = 5000
            curs.execute(self.sql.iter_nodes)
            for row in curs:
                yield NodeId(row["level"], row["idx"]), bytes(row["hash"])
