"""``ledger verify``'s share of the stream heads map, CPU microseconds per entry, side by side
with its baselines in the same run.

1. **Replay**: every version of a log of ``--entries`` leaves over ``--streams`` streams, a
   version per ``--batch`` leaves (a group commit each), replayed by the pass's
   ``ReplayedMap`` (root and stored rows of each version), its loops in C (``_replay.c``,
   where built) and in Python, against the writer's ``HeadMap``
   walk over a ``LatestNodeStore`` with ``group_rows`` (the same root and rows, the way the
   append computes them). Interleaved rounds, the fastest of each kept.
2. **Reading the rows** (with ``--reuse URL``, a PostgreSQL ledger kept by ``bench_verify.py
   --keep``): every version's stored rows, a version at a time, as verify reads them (one row
   of arrays per version) against a row per node group; client CPU of this process and CPU of
   the PostgreSQL backend serving it (from /proc), pages of 1,000 versions.

    .venv/bin/python scripts/bench/bench_heads_replay.py [--streams 1000] [--entries 100000]
    .venv/bin/python scripts/bench/bench_heads_replay.py --reuse URL
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from ledger.crypto.suites import INTL
from ledger.log.headmap import HeadMap, StreamHead, head_key
from ledger.log.heads import LatestNodeStore, OverlayNodeStore, group_rows
from ledger.log.verify_heads import NATIVE_REPLAY, ReplayedMap

Version = list[tuple[bytes, StreamHead]]


def versions(streams: int, entries: int, batch: int) -> list[Version]:
    """The log's versions: each the newest head of every stream its ``batch`` leaves move."""
    rng = random.Random(7)
    keys = [head_key(INTL, uuid.UUID(int=rng.getrandbits(128))) for _ in range(streams)]
    seqs: dict[bytes, int] = {}
    out: list[Version] = []
    for start in range(0, entries, batch):
        moved: dict[bytes, StreamHead] = {}
        for leaf in range(start, min(start + batch, entries)):
            key = rng.choice(keys)
            seqs[key] = seqs.get(key, 0) + 1
            moved[key] = StreamHead(seqs[key], os.urandom(32), leaf)
        out.append(list(moved.items()))
    return out


def replayed(log: list[Version], *, native: bool) -> tuple[float, list[Any]]:
    """CPU seconds of ``ReplayedMap`` over every version (values packed as verify packs them),
    its loops in C or in Python; and what each version gave (to hold the two to each other)."""
    packed = [[(key, head.value()) for key, head in version] for version in log]
    replay = ReplayedMap(INTL, in_c=native)
    apply = replay.apply
    t0 = time.process_time()
    out = [apply(version) for version in packed]
    return time.process_time() - t0, out


def walked(log: list[Version]) -> float:
    """CPU seconds of the writer's ``HeadMap`` walk and ``group_rows`` over every version."""
    store = LatestNodeStore()
    t0 = time.process_time()
    for version in log:
        size = max(head.leaf_index for _, head in version) + 1  # the log size after it
        overlay = OverlayNodeStore(store)
        HeadMap(INTL, overlay)._apply_keyed({key: (key.hex(), head) for key, head in version},
                                            size)
        store.put(size, overlay.written)
        group_rows(overlay.written, store.nodes.get)
    return time.process_time() - t0


def replay_table(streams: int, entries: int, batch: int, repeat: int) -> None:
    """Part 1: the replay against the walk, interleaved."""
    log = versions(streams, entries, batch)
    best = {"c": float("inf"), "python": float("inf"), "walk": float("inf")}
    for _ in range(repeat):
        c.wait_quiet()
        if NATIVE_REPLAY:
            seconds, in_c = replayed(log, native=True)
            best["c"] = min(best["c"], seconds)
        seconds, in_python = replayed(log, native=False)
        best["python"] = min(best["python"], seconds)
        if NATIVE_REPLAY and in_c != in_python:
            sys.exit("the C replay and the Python replay differ")
        best["walk"] = min(best["walk"], walked(log))
    ours, py, base = (best[k] / entries * 1e6 for k in ("c", "python", "walk"))
    c.table(f"Heads map replay, CPU µs per entry ({streams:,} streams, {entries:,} entries,"
            f" a version per {batch}; fastest of {repeat}; every version's root and rows the"
            " same in C and in Python)",
            ["ReplayedMap, C loops µs", "ReplayedMap, Python loops µs",
             "HeadMap walk + group_rows µs (baseline)", "C / Python", "Python / walk"],
            [[f"{ours:.1f}" if NATIVE_REPLAY else "not built", f"{py:.1f}", f"{base:.1f}",
              f"{ours / py:.2f}x" if NATIVE_REPLAY else "-", f"{py / base:.2f}x"]])


_BY_VERSION = ("SELECT version, array_agg(depth), array_agg(prefix), array_agg(node)"
               " FROM head_nodes WHERE version > %s AND version <= %s"
               " GROUP BY version ORDER BY version")
_BY_GROUP = ("SELECT version, depth, prefix, node FROM head_nodes"
             " WHERE version > %s AND version <= %s ORDER BY version")


def _backend_cpu(pid: int) -> float:
    """CPU seconds of the PostgreSQL backend ``pid`` (this machine's server)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rows_table(url: str, repeat: int) -> None:
    """Part 2: reading every version's rows, a row of arrays per version against a row per
    group, in turns; client and server CPU per entry (the log's leaves)."""
    import psycopg  # noqa: PLC0415

    base, _, query = url.partition("?")
    schema = dict(p.split("=", 1) for p in query.split("&") if p).get("schema", "public")
    with psycopg.connect(base) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        size = conn.execute("SELECT count(*) FROM log_leaves").fetchone()
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert size is not None and row is not None
        leaves, pid = int(size[0]), int(row[0])
        results: dict[str, list[tuple[float, float]]] = {"by version": [], "by group": []}
        for _ in range(repeat):
            for name, sql in (("by version", _BY_VERSION), ("by group", _BY_GROUP)):
                client, server = time.process_time(), _backend_cpu(pid)
                for low in range(-1, leaves, 1000):
                    curs: Any = conn.cursor(binary=True)
                    for _ in curs.execute(sql, (low, low + 1000)):
                        pass
                results[name].append(((time.process_time() - client) / leaves * 1e6,
                                      (_backend_cpu(pid) - server) / leaves * 1e6))
    ours, theirs = (min(results[k], key=sum) for k in ("by version", "by group"))
    c.table(f"Reading the heads map's rows, CPU µs per entry ({leaves:,} leaves; the round of"
            f" least total CPU of {repeat})",
            ["read", "client µs", "PostgreSQL µs", "total µs", "total / a row per group"],
            [["a row of arrays per version (verify)", f"{ours[0]:.2f}", f"{ours[1]:.2f}",
              f"{sum(ours):.2f}", f"{sum(ours) / sum(theirs):.2f}x"],
             ["a row per node group (baseline)", f"{theirs[0]:.2f}", f"{theirs[1]:.2f}",
              f"{sum(theirs):.2f}", "1.00x"]])


def main() -> None:
    """Measure and print the tables."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--entries", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=100, help="leaves a version")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--reuse", metavar="URL", help="also time reading the rows of this ledger")
    a = p.parse_args()
    print(c.machine())
    replay_table(a.streams, a.entries, a.batch, a.repeat)
    if a.reuse:
        rows_table(a.reuse, a.repeat)


if __name__ == "__main__":
    main()
