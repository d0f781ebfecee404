"""Startup cost of the stream heads map: what ``ledger init`` pays to upgrade a log made before the
map, and what each appending process pays once to load its current map (docs/evidence-format.md,
Stream heads map, Versions and storage).

A log of ``--leaves`` leaves over ``--streams`` streams (uniformly random, each stream's seqs
dense) is written straight into ``log_leaves`` (no events: neither step reads them). Then:

* upgrade: ``_start_heads_map`` under the append's lock — every stream's newest leaf (one grouped
  query), the map built from them, every node inserted as one version;
* load: ``_load_heads`` in a fresh recorder — the same query and build, and the root checked
  against the stored one; the map's memory (``tracemalloc``: the Python objects it keeps).

    .venv/bin/python scripts/bench/bench_heads_startup.py [--quick] [--backend both]
"""

from __future__ import annotations

import gc
import random
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from ledger.crypto.suites import INTL
from ledger.log.sealing import OpaqueSealer
from ledger.store._sql import HEADS_MAP_START
from ledger.store.postgres import PostgresLedgerRecorder
from ledger.store.sqlite import SQLiteLedgerRecorder

_TIME = "2026-10-15T01:00:00.000000Z"


def leaves(count: int, streams: int, seed: int = 1) -> list[tuple[Any, ...]]:
    """``count`` leaf rows over ``streams`` random streams."""
    rng = random.Random(seed)
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(streams)]
    seqs = [0] * streams
    rows = []
    for index in range(count):
        # Every stream has at least one leaf, then they are drawn at random.
        which = index if index < streams else rng.randrange(streams)
        seqs[which] += 1
        rows.append((index, ids[which], seqs[which], rng.randbytes(32), _TIME, None, index + 1))
    return rows


def sqlite_recorder(path: str) -> SQLiteLedgerRecorder:
    """A recorder on a SQLite file."""
    return SQLiteLedgerRecorder(SQLiteDatastore(path), profile=INTL, sealer=OpaqueSealer(INTL))


def pg_recorder(schema: str) -> PostgresLedgerRecorder:
    """A recorder on a PostgreSQL schema."""
    datastore = PostgresDatastore(dbname="test", host="127.0.0.1", port="5432", user="postgres",
                                  password="", schema=schema)
    return PostgresLedgerRecorder(datastore, profile=INTL, sealer=OpaqueSealer(INTL))


def fill(name: str, where: str, rows: list[tuple[Any, ...]]) -> None:
    """Write the leaves and forget the map's start (a log made before the map)."""
    if name == "sqlite":
        import sqlite3  # noqa: PLC0415

        conn = sqlite3.connect(where)
        with conn:
            conn.executemany("INSERT INTO log_leaves VALUES (?,?,?,?,?,?,?)",
                             [(r[0], r[1].hex, *r[2:]) for r in rows])
            conn.execute("DELETE FROM ledger_meta WHERE key = ?", (HEADS_MAP_START,))
        conn.close()
        return
    with psycopg.connect(c.PG_URL) as conn, conn.cursor() as curs:
        curs.execute(f'SET search_path TO "{where}"')
        with curs.copy("COPY log_leaves FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        curs.execute("DELETE FROM ledger_meta WHERE key = %s", (HEADS_MAP_START,))
        curs.execute("ANALYZE log_leaves")


def run(name: str, count: int, streams: int) -> list[object]:
    """One backend's row: upgrade seconds, rows written, load seconds, map memory."""
    tmp = tempfile.mkdtemp(prefix="bench-heads-")
    where = f"{tmp}/ledger.db" if name == "sqlite" else f"bench_heads_{uuid.uuid4().hex[:10]}"
    if name == "postgres":
        with psycopg.connect(c.PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{where}"')
    try:
        make = sqlite_recorder if name == "sqlite" else pg_recorder
        recorder = make(where)
        recorder.create_table()
        fill(name, where, leaves(count, streams))
        gc.collect()
        t0 = time.perf_counter()
        recorder._start_heads_map()
        upgrade = time.perf_counter() - t0
        written = sum(1 for _ in recorder.iter_head_nodes(-1))
        recorder.close()
        loads = []
        for _ in range(2):
            fresh = make(where)
            gc.collect()
            tracemalloc.start()
            t0 = time.perf_counter()
            current = fresh._load_heads()
            loads.append(time.perf_counter() - t0)
            memory = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            assert current.version == count
            fresh.close()
        # tracemalloc slows the build itself: time it once more without.
        fresh = make(where)
        t0 = time.perf_counter()
        fresh._load_heads()
        plain = time.perf_counter() - t0
        fresh.close()
        return [name, count, streams, upgrade, written, plain, min(loads), memory / 2**20]
    finally:
        if name == "postgres":
            with psycopg.connect(c.PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{where}" CASCADE')
        import shutil  # noqa: PLC0415

        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=1_000_000, quick_n=100_000)
    p.add_argument("--streams", type=int, default=None,
                   help="streams the leaves spread over (default leaves/10)")
    args = p.parse_args()
    count = c.size(args)
    streams = args.streams or count // 10
    c.header("bench_heads_startup (stream heads map: upgrade and load)", args)
    rows = [run(name, count, streams) for name in c.backends(args.backend)]
    c.table("Heads map startup", ["backend", "leaves", "streams", "upgrade s", "rows written",
                                  "load s", "load s (traced)", "map MiB"], rows)


if __name__ == "__main__":
    main()
