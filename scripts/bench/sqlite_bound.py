"""Issue 2, figure 1 on SQLite: what an entry must cost beyond a bare eventsourcing save.

Measures, on this machine, each piece of work the issue requires of every filing that a bare
save does not do — the author's signature checked on append, a signed checkpoint per commit,
the Merkle tree's new nodes and root, the entry's hash, and the log rows (leaf, nodes,
checkpoint, and the three reads under the lock) written in the same SQLite transaction — and
prints the best ratio to bare that those alone allow, as if everything else cost nothing:

    .venv/bin/python scripts/bench/sqlite_bound.py [--n 2000]

The storage part runs raw ``sqlite3`` on the two schemas (eventsourcing's events table alone;
ours with the log tables), WAL mode, one transaction per filing.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint, checkpoint_signer
from ledger.log.entries import b64decode
from ledger.store.sqlite import SQLiteLedgerRecorder


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    """Wall microseconds per call, after one warm-up call."""
    fn()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def storage_us(statements: list[str], ours: bool, n: int, directory: str) -> float:
    """One filing per transaction: the event row (and, for ours, the log's rows and reads)."""
    conn = sqlite3.connect(os.path.join(directory, f"{'ours' if ours else 'bare'}.db"),
                           isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for statement in statements:
        conn.execute(statement)
    curs = conn.cursor()
    streams = [str(uuid.uuid4()) for _ in range(50)]
    state = os.urandom(700)
    started = time.perf_counter()
    for i in range(n):
        stream, seq = streams[i % 50], i // 50 + 1
        curs.execute("BEGIN IMMEDIATE")
        if ours:
            curs.execute("SELECT leaf_index, recorded_at FROM log_leaves"
                         " ORDER BY leaf_index DESC LIMIT 1").fetchone()
            curs.execute("SELECT originator_version, entry_hash FROM log_leaves"
                         " WHERE originator_id = ? ORDER BY originator_version DESC LIMIT 1",
                         (stream,)).fetchone()
            curs.execute("SELECT nonce FROM log_leaves WHERE nonce IN (?)",
                         (str(uuid.uuid4()),)).fetchall()
        curs.execute("INSERT INTO stored_events (originator_id, originator_version, topic,"
                     " state) VALUES (?,?,?,?)", (stream, seq, "MaterialsSupplemented", state))
        if ours:
            curs.execute("INSERT INTO log_leaves VALUES (?,?,?,?,?,?,?)",
                         (i, stream, seq, os.urandom(32), "2026-11-25T00:00:00.000000Z",
                          str(uuid.uuid4()), curs.lastrowid))
            nodes = [(0, i, os.urandom(32))] + ([(1, i // 2, os.urandom(32))] if i % 2 else [])
            curs.executemany("INSERT INTO log_nodes VALUES (?,?,?)", nodes)
            curs.execute("INSERT OR IGNORE INTO log_checkpoints VALUES (?,?,?)",
                         (i + 1, os.urandom(32), "x" * 300))
        curs.execute("COMMIT")
    elapsed = (time.perf_counter() - started) / n * 1e6
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    n = args.n
    with c.backend("sqlite") as b:
        ledger = b.ours()
        stream = c.open_projects(ledger, 1)[0]
        signed = ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD, stream=stream)
        profile = ledger.identity.profile
        public_key = ledger.registry().keys[signed.filing.key].public_key
        message, signature = signed.filing.signing_bytes(), b64decode(signed.signature)
        verify = per_call_us(lambda: profile.signature.verify(public_key, message, signature), n)
        sign = checkpoint_signer(ledger.identity.log_key.name, ledger.custody.signer("log"))
        root = os.urandom(32)
        checkpoint = per_call_us(
            lambda: sign(Checkpoint(ledger.identity.origin, 123_456, root)).text(), n)
        entry = ledger.mapper.to_stored_event(ledger.events_of(stream)[-1]).state
        entry_hash = per_call_us(lambda: profile.digest(entry), n)
        leaves = [os.urandom(32) for _ in range(1000)]
        tree: dict[str, Any] = {"size": 1000, "edge": merkle.append_leaves(
            profile.hash, 0, {}, leaves)[1]}

        def append_leaf() -> None:
            _, edge = merkle.append_leaves(profile.hash, tree["size"], dict(tree["edge"]),
                                           [leaves[tree["size"] % 1000]])
            merkle.root_from_right_edge(profile.hash, tree["size"] + 1, edge)
            tree["size"] += 1
            tree["edge"] = edge

        tree_us = per_call_us(append_leaf, n)
        ours_ddl = SQLiteLedgerRecorder(
            SQLiteDatastore(":memory:"), profile=profile,
            sealer=ledger.recorder.sealer).construct_create_table_statements()
    bare_ddl = SQLiteApplicationRecorder(SQLiteDatastore(":memory:")
                                         ).construct_create_table_statements()
    with tempfile.TemporaryDirectory() as directory:
        bare_store = storage_us(bare_ddl, False, n, directory)
        ours_store = storage_us(ours_ddl, True, n, directory)
    extra = verify + checkpoint + entry_hash + tree_us + ours_store - bare_store
    print(f"per filing on this machine ({n} calls each):")
    print(f"  author signature check (Ed25519 verify)   {verify:7.1f} us")
    print(f"  checkpoint: Ed25519 sign + signed note    {checkpoint:7.1f} us")
    print(f"  entry hash (SHA-256)                      {entry_hash:7.1f} us")
    print(f"  Merkle: new nodes + root                  {tree_us:7.1f} us")
    print(f"  SQLite, bare event + commit               {bare_store:7.1f} us")
    print(f"  SQLite, ours (+ leaf, nodes, checkpoint, three reads) {ours_store:7.1f} us "
          f"(+{ours_store - bare_store:.1f})")
    print(f"  required beyond bare                      {extra:7.1f} us")
    print("best ratio these allow against a bare save of B us: B / (B + extra), e.g.")
    for bare in (450, 550, 650):
        print(f"  B = {bare} us: {bare / (bare + extra):.2f}x")


if __name__ == "__main__":
    main()
