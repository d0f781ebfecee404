"""The stream heads map on the write path, on both backends (docs/evidence-format.md, Stream
heads map; docs/design.md §5 Checkpoint): every checkpoint carries a ``heads`` line whose proofs
verify; a rolled-back append leaves the map untouched; two processes appending in turns keep
one map; a database made before the map is upgraded by ``ledger init`` and continues it."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg import sql

from ledger.app import Ledger
from ledger.errors import ConfigurationError, HeadsMapUnavailableError
from ledger.evidence.verify import verify_ledger
from ledger.log.checkpoint import SignedNote, sign_checkpoint
from ledger.log.headmap import EMPTY, StreamHead, heads_root, map_root, verify_head
from ledger.log.heads import (
    decode_group,
    decode_prefix,
    encode_node,
    encode_prefix,
    map_stream,
)
from ledger.measures.catalogue import EXAMPLES
from ledger.store import _sql
from ledger.store import postgres as postgres_store
from ledger.store import sqlite as sqlite_store
from ledger.store._sql import SQLHeadsMap

# --- helpers -------------------------------------------------------------------------------------


def _open(ledger: Ledger) -> uuid.UUID:
    return ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream


def _supplement(ledger: Ledger, stream: uuid.UUID) -> int:
    return ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                       stream=stream).leaf_index


def _group(ledger: Ledger, streams: list[uuid.UUID]) -> None:
    """One group commit: a supplement on each of ``streams`` (a stream may come twice)."""
    filings = [ledger.prepare("edu-wang", "MaterialsSupplemented",
                              EXAMPLES["MaterialsSupplemented"], stream=s) for s in streams]
    for result in ledger.submit_many(filings):
        assert not isinstance(result, Exception), result


def _recorder(ledger: Ledger) -> SQLHeadsMap[Any]:
    recorder = ledger.recorder
    assert isinstance(recorder, SQLHeadsMap)
    return recorder


def _heads_at(ledger: Ledger, size: int) -> dict[uuid.UUID, StreamHead]:
    """Every stream's head among the first ``size`` leaves, from the leaves themselves."""
    heads: dict[uuid.UUID, StreamHead] = {}
    for leaf, _ in ledger.log.iter_log(0, size):
        stream = map_stream(leaf.originator_id)
        assert stream is not None
        heads[stream] = StreamHead(leaf.originator_version, leaf.entry_hash, leaf.leaf_index)
    return heads


def _signed_heads_root(ledger: Ledger, size: int) -> bytes:
    checkpoint = ledger.log.checkpoint_at_most(size)
    assert checkpoint is not None
    assert checkpoint.size == size
    return heads_root(SignedNote.parse(checkpoint.note).checkpoint.extensions)


def _assert_every_head_proves(ledger: Ledger, size: int, root: bytes) -> None:
    """Every stream's head at ``size`` (and a stream with none) proves against ``root``."""
    expected = _heads_at(ledger, size)
    assert map_root(ledger.identity.profile, expected) == root
    for stream in [*expected, uuid.uuid4()]:
        head, proof = ledger.log.head_proof(stream, size)
        assert head == expected.get(stream)
        verify_head(ledger.identity.profile, root, stream, head, proof)


def _head_rows(ledger: Ledger) -> list[tuple[int, int, bytes, bytes]]:
    return list(ledger.log.iter_head_nodes(-1))


@contextmanager
def _raw(database_url: str) -> Iterator[Any]:
    """A committed transaction on the test database, outside the ledger (``?`` placeholders on
    SQLite, ``%s`` on PostgreSQL, whose search path is the test's schema)."""
    if database_url.startswith("sqlite:///"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        try:
            with conn:
                yield conn.cursor()
        finally:
            conn.close()
        return
    parts = urlsplit(database_url)
    schema = parse_qs(parts.query)["schema"][0]
    with psycopg.connect(parts._replace(query="").geturl()) as conn, conn.cursor() as curs:
        curs.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        yield curs


def _p(database_url: str) -> str:
    return "?" if database_url.startswith("sqlite:///") else "%s"


# --- every checkpoint -----------------------------------------------------------------------------


def test_every_checkpoint_carries_a_heads_line_whose_proofs_verify(ledger: Ledger) -> None:
    streams = [_open(ledger) for _ in range(4)]
    _group(ledger, [streams[0], streams[1], streams[0], streams[2]])  # a stream twice
    _supplement(ledger, streams[3])
    _group(ledger, streams[::-1])
    start = ledger.log.heads_map_start()
    assert start == 0  # a fresh database starts its map empty
    checkpoints = list(ledger.log.iter_checkpoints())
    assert len(checkpoints) > 10
    for checkpoint in checkpoints:
        root = heads_root(SignedNote.parse(checkpoint.note).checkpoint.extensions)
        _assert_every_head_proves(ledger, checkpoint.size, root)
    # The default size is the newest checkpoint's; size 0 is the empty map.
    head, proof = ledger.proofs.head_proof(streams[0])
    newest = checkpoints[-1].size
    verify_head(ledger.identity.profile, _signed_heads_root(ledger, newest), streams[0], head,
                proof)
    assert head == _heads_at(ledger, newest)[streams[0]]
    head, proof = ledger.log.head_proof(streams[0], 0)
    assert head is None
    verify_head(ledger.identity.profile, EMPTY, streams[0], None, proof)
    with pytest.raises(HeadsMapUnavailableError, match=f"the log has {newest} leaves"):
        ledger.log.head_proof(streams[0], newest + 1)
    report = verify_ledger(ledger.log, ledger.identity, workers=1)
    assert report.ok, [f.describe() for f in report.failures]


def test_a_proof_reads_a_long_path_in_more_than_one_query(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger.store import _sql  # noqa: PLC0415

    for _ in range(20):  # paths of some 4 to 9 levels
        _open(ledger)
    monkeypatch.setattr(_sql, "_PATH_GROUPS", 1)  # one node group (four levels) per query
    queries: list[int] = []
    recorder = _recorder(ledger)
    path = recorder._head_path

    def counted(positions: Any, version: int) -> dict[int, bytes]:
        queries.append(len(positions))
        return path(positions, version)

    monkeypatch.setattr(recorder, "_head_path", counted)
    size = ledger.log.tree_size()
    _assert_every_head_proves(ledger, size, _signed_heads_root(ledger, size))
    assert set(queries) == {1}
    assert len(queries) > len(_heads_at(ledger, size)) + 1  # some path took two queries


# --- rollback -----------------------------------------------------------------------------------


def test_a_rolled_back_append_leaves_the_map_and_its_table_unchanged(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _open(ledger)
    _supplement(ledger, stream)
    recorder = _recorder(ledger)
    current = recorder._current_heads()
    before = (current.version, current.root(), _head_rows(ledger), ledger.log.tree_size())

    def failing(original: Callable[..., Any]) -> Callable[..., Any]:
        def write(*args: Any, **kwargs: Any) -> Any:
            original(*args, **kwargs)  # every row inserted, then the transaction fails
            raise RuntimeError("the disk is full")
        return write

    def refused(*args: Any, **kwargs: Any) -> Any:
        # PostgreSQL's one-statement append commits whole or not at all: it can only fail
        # before writing (a lost connection, a timeout).
        raise RuntimeError("the disk is full")

    for cls in (sqlite_store.SQLiteLogTransaction, postgres_store.PostgresLogTransaction):
        monkeypatch.setattr(cls, "write", failing(cls.write))
    monkeypatch.setattr(postgres_store.PostgresLogTransaction, "write_if", refused)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="disk is full"):
            _supplement(ledger, stream)
        with pytest.raises(RuntimeError, match="disk is full"):
            _group(ledger, [stream, stream])
    assert recorder._current_heads() is current
    assert (current.version, current.root(), _head_rows(ledger),
            ledger.log.tree_size()) == before
    monkeypatch.undo()
    _supplement(ledger, stream)
    size = ledger.log.tree_size()
    assert current.version == size
    _assert_every_head_proves(ledger, size, _signed_heads_root(ledger, size))
    report = verify_ledger(ledger.log, ledger.identity, workers=1)
    assert report.ok, [f.describe() for f in report.failures]


# --- two processes ------------------------------------------------------------------------------


@pytest.mark.parametrize("behind", [False, True], ids=["catch-up", "rebuild"])
def test_two_ledgers_appending_in_turns_keep_one_map(
        ledger: Ledger, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch,
        behind: bool) -> None:
    if behind:  # every lag is "too far": the map is rebuilt outside the lock instead
        monkeypatch.setattr(sqlite_store, "CATCH_UP_LEAVES", 0)
        monkeypatch.setattr(postgres_store, "CATCH_UP_LEAVES", 0)
    other = make_ledger()
    streams = [_open(ledger), _open(other)]
    for turn in range(6):
        ledger_, stream = (ledger, other)[turn % 2], streams[(turn // 2) % 2]
        if turn % 3 == 2:
            _group(ledger_, [streams[0], streams[1], stream])
        else:
            _supplement(ledger_, stream)
    for writer in (ledger, other):  # each map is the one its last append committed
        size = _recorder(writer)._current_heads().version
        assert _recorder(writer)._current_heads().root() == map_root(
            ledger.identity.profile, _heads_at(ledger, size))
    for checkpoint in ledger.log.iter_checkpoints():  # the same roots as one writer's
        _assert_every_head_proves(ledger, checkpoint.size,
                                  _signed_heads_root(ledger, checkpoint.size))
    report = verify_ledger(ledger.log, ledger.identity, workers=1)
    assert report.ok, [f.describe() for f in report.failures]


# --- a database made before the map ------------------------------------------------------------


def _make_pre_map(ledger: Ledger, database_url: str) -> None:
    """Turn the ledger's database into one made before the heads map: no table, no start, and
    every checkpoint re-signed by the log key without a heads line (as it was then)."""
    p = _p(database_url)
    log_name = ledger.identity.log_key.name
    log_signer = ledger.custody.signer("log")
    notes = []
    for checkpoint in ledger.log.iter_checkpoints():
        body = SignedNote.parse(checkpoint.note).checkpoint
        old = type(body)(body.origin, body.size, body.root)
        notes.append((sign_checkpoint(old, log_name, log_signer).text(), checkpoint.size))
    with _raw(database_url) as curs:
        curs.execute("DROP TABLE head_nodes")
        curs.execute(f"DELETE FROM ledger_meta WHERE key = {p}", ("heads_map_start",))
        curs.executemany(f"UPDATE log_checkpoints SET note = {p} WHERE size = {p}", notes)
        if not database_url.startswith("sqlite:///"):
            # An overload left by the old code would be called by it: init must drop it.
            curs.execute("CREATE FUNCTION ledger_lock_and_read(uuid[], text[]) RETURNS int"
                         " LANGUAGE sql AS 'SELECT 1'")


def test_a_database_made_before_the_map_is_upgraded_by_init(
        ledger: Ledger, make_ledger: Callable[..., Ledger], database_url: str) -> None:
    streams = [_open(ledger) for _ in range(3)]
    _group(ledger, streams)
    _make_pre_map(ledger, database_url)
    size = ledger.log.tree_size()

    old = make_ledger()
    assert old.log.heads_map_start() is None
    # Reading and verifying keep working; appending is refused until `ledger init`.
    assert old.project(streams[0]).version == 2
    report = verify_ledger(old.log, old.identity, workers=1)
    assert report.ok, [f.describe() for f in report.failures]
    with pytest.raises(ConfigurationError, match="run `ledger init`"):
        _supplement(old, streams[0])
    assert old.log.tree_size() == size
    with pytest.raises(HeadsMapUnavailableError, match="no heads map yet"):
        old.log.head_proof(streams[0], size)

    old.initialise()  # ledger init: idempotent, and now it upgrades
    assert old.log.heads_map_start() == size
    old.initialise()
    assert old.log.heads_map_start() == size
    rows = _head_rows(old)
    assert rows
    assert {row[0] for row in rows} == {size}  # the whole map, as one version
    expected = map_root(old.identity.profile, _heads_at(old, size))
    _assert_every_head_proves(old, size, expected)
    expected_error = f"no heads map at size {size - 1} (the map starts at size {size})"
    with pytest.raises(HeadsMapUnavailableError, match=re.escape(expected_error)):
        old.log.head_proof(streams[0], size - 1)
    if not database_url.startswith("sqlite:///"):
        with _raw(database_url) as curs:
            curs.execute("SELECT count(*) FROM pg_proc WHERE proname = 'ledger_lock_and_read'"
                         " AND pronamespace = current_schema()::regnamespace")
            assert curs.fetchone()[0] == 1  # no overload left beside the new function

    # Appends continue the map, from this process and from one started before the upgrade.
    _supplement(old, streams[0])
    _group(ledger, [streams[1], streams[2]])
    _supplement(make_ledger(), streams[2])
    newest = ledger.log.tree_size()
    for checkpoint in ledger.log.iter_checkpoints():
        lines = SignedNote.parse(checkpoint.note).checkpoint.extensions
        assert bool(lines) == (checkpoint.size > size)
        if checkpoint.size > size:
            _assert_every_head_proves(ledger, checkpoint.size,
                                      _signed_heads_root(ledger, checkpoint.size))
    assert newest > size
    fresh = make_ledger()  # ``ledger`` remembers the start its database had before the test
    report = verify_ledger(fresh.log, fresh.identity, workers=1)
    assert report.ok, [f.describe() for f in report.failures]


# --- a map stored one node per row (the first layout) ----------------------------------------


def _make_first_layout(ledger: Ledger, database_url: str) -> None:
    """Store the ledger's heads map as its first layout did: one node per row (each version's
    rows: the nodes of the groups it wrote), and no ``heads_map_layout``."""
    p = _p(database_url)
    profile = ledger.identity.profile
    rows = []
    for version, depth, prefix, group in _head_rows(ledger):
        for (node_depth, node_prefix), node in decode_group(
                profile, depth, decode_prefix(depth, prefix), group).items():
            rows.append((node_depth, encode_prefix(node_depth, node_prefix), version,
                         encode_node(node)))
    with _raw(database_url) as curs:
        curs.execute("DELETE FROM head_nodes")
        curs.executemany(f"INSERT INTO head_nodes (depth, prefix, version, node)"
                         f" VALUES ({p}, {p}, {p}, {p})", rows)
        curs.execute(f"DELETE FROM ledger_meta WHERE key = {p}", ("heads_map_layout",))


def test_a_map_stored_one_node_per_row_is_converted_by_init(
        ledger: Ledger, make_ledger: Callable[..., Ledger], database_url: str) -> None:
    streams = [_open(ledger) for _ in range(6)]
    _group(ledger, [streams[0], streams[3], streams[5]])
    _supplement(ledger, streams[1])
    grouped = _head_rows(ledger)
    _make_first_layout(ledger, database_url)
    assert len(_head_rows(ledger)) > len(grouped)

    old = make_ledger()
    assert old.log.heads_map_layout() is None
    # Verify says what to do (the roots still hold); appending is refused until init.
    report = verify_ledger(old.log, old.identity, workers=1)
    assert [f.describe() for f in report.failures] == [
        "[heads] ledger: the heads map is stored one node per row, an earlier layout: run"
        " `ledger init` to convert it to node groups (its rows are not compared until then)"]
    with pytest.raises(ConfigurationError, match="run `ledger init`"):
        _supplement(old, streams[0])

    old.initialise()  # converts: every version's rows as the append would have written them
    assert old.log.heads_map_layout() == "groups4"
    assert _head_rows(old) == grouped
    old.initialise()
    assert _head_rows(old) == grouped
    _supplement(old, streams[2])
    _group(make_ledger(), [streams[4], streams[2]])
    for checkpoint in old.log.iter_checkpoints():
        _assert_every_head_proves(old, checkpoint.size, _signed_heads_root(old, checkpoint.size))
    report = verify_ledger(old.log, old.identity, workers=1)
    assert report.ok, [f.describe() for f in report.failures]


def test_the_latest_head_proof_is_read_with_its_checkpoint(ledger: Ledger) -> None:
    """One read gives the newest checkpoint and every stream's proof at its size, equal to the
    proof asked at that size; none before the first checkpoint is asked for here."""
    streams = [_open(ledger) for _ in range(5)]
    _group(ledger, streams[:3])
    latest = ledger.log.latest_checkpoint()
    assert latest is not None
    for stream in [*streams, uuid.uuid4()]:
        found = ledger.log.latest_head_proof(stream)
        assert found is not None
        checkpoint, head, proof = found
        assert checkpoint == latest
        assert (head, proof) == ledger.log.head_proof(stream, latest.size)
        verify_head(ledger.identity.profile, _signed_heads_root(ledger, latest.size), stream,
                    head, proof)
        trusted = ledger.proofs.latest_head_proof(stream)
        assert trusted == (latest, head, proof)


def _reads(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the reads of the newest checkpoint with a path that ``ledger``'s recorder makes
    (the one read a head proof at the newest checkpoint takes from the database)."""
    recorder = _recorder(ledger)
    reads: list[int] = []
    read = recorder._latest_and_path

    def counted(*args: Any) -> Any:
        reads.append(1)
        return read(*args)

    monkeypatch.setattr(recorder, "_latest_and_path", counted)
    return reads


def _assert_proof_at_its_checkpoint(ledger: Ledger, stream: uuid.UUID,
                                    found: Any, newest: int) -> int:
    """The proof names a stored checkpoint no newer than ``newest``, holds the stream's head
    at exactly that size (from the leaves) and verifies against its signed heads line."""
    assert found is not None
    checkpoint, head, proof = found
    assert checkpoint.size <= newest
    assert ledger.log.checkpoint_at_most(checkpoint.size) == checkpoint
    assert head == _heads_at(ledger, checkpoint.size).get(stream)
    verify_head(ledger.identity.profile, _signed_heads_root(ledger, checkpoint.size), stream,
                head, proof)
    return int(checkpoint.size)


def test_the_writing_process_proves_latest_heads_from_memory_and_others_stay_correct(
        ledger: Ledger, make_ledger: Callable[..., Ledger],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The process that signed the newest checkpoint answers head proofs at it from its map in
    memory (no read); after another process appends, every answer still names a real
    checkpoint, holds the head at exactly that size and verifies; once the newest is no longer
    known to be current (``CURRENT_FOR``) the answer is the newest, read from the database."""
    streams = [_open(ledger) for _ in range(4)]
    _group(ledger, streams[:3])
    reads = _reads(ledger, monkeypatch)
    latest = ledger.log.latest_checkpoint()
    assert latest is not None
    for stream in [*streams, uuid.uuid4()]:
        found = ledger.log.latest_head_proof(stream)
        assert _assert_proof_at_its_checkpoint(ledger, stream, found, latest.size) == latest.size
        assert found == (latest, *ledger.log.head_proof(stream, latest.size))
        assert ledger.proofs.latest_head_proof(stream) == found
    assert reads == []  # every one from memory

    other = make_ledger()  # another process: it appends, this one does not know
    for stream in streams[:2]:
        _supplement(other, stream)
    newest = other.log.latest_checkpoint()
    assert newest is not None
    assert newest.size > latest.size
    for stream in streams:  # within CURRENT_FOR: this process's newest, still a true proof
        found = ledger.log.latest_head_proof(stream)
        assert _assert_proof_at_its_checkpoint(ledger, stream, found, newest.size) in (
            latest.size, newest.size)

    monkeypatch.setattr(_sql, "CURRENT_FOR", 0.0)  # no longer known to be current: read
    for stream in streams:
        found = ledger.log.latest_head_proof(stream)
        assert _assert_proof_at_its_checkpoint(ledger, stream, found, newest.size) == newest.size
    assert len(reads) == len(streams)  # its map is behind the newest: nothing kept from it

    never = make_ledger()  # a process that never appended has no map: it always reads
    for stream in streams:
        found = never.log.latest_head_proof(stream)
        assert _assert_proof_at_its_checkpoint(never, stream, found, newest.size) == newest.size
    assert _recorder(never)._heads is None

    monkeypatch.setattr(_sql, "CURRENT_FOR", 60.0)
    _supplement(ledger, streams[3])  # catches up under the lock, appends, signs the newest
    latest = ledger.log.latest_checkpoint()
    assert latest is not None
    before = len(reads)
    for stream in streams:
        found = ledger.log.latest_head_proof(stream)
        assert _assert_proof_at_its_checkpoint(ledger, stream, found, latest.size) == latest.size
    assert len(reads) == before  # from memory again
    monkeypatch.setattr(_sql, "CURRENT_FOR", 0.0)  # a read that finds its map at the newest
    assert ledger.log.latest_head_proof(streams[0]) == (
        latest, *ledger.log.head_proof(streams[0], latest.size))
    assert len(reads) == before + 1
    monkeypatch.setattr(_sql, "CURRENT_FOR", 60.0)  # ... makes it current again
    assert ledger.log.latest_head_proof(streams[1]) == (
        latest, *ledger.log.head_proof(streams[1], latest.size))
    assert len(reads) == before + 1
