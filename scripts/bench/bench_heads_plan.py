"""The stream heads map's new version as an append computes it: ``CurrentHeads.plan`` (the
overlay update and the node groups it stores) then ``commit``, CPU microseconds per filing.

For maps of ``--streams`` streams (default 100, 1,000 and 100,000), two cases: a group commit
of 100 filings moving 100 distinct streams, and one filing per commit. The map is built first,
then every batch is planned and committed in turn over the whole map, so that node groups are
met in the state a long-running process finds them in. Baseline in the same run: the RFC 9162
tree's new nodes for the same leaves (``merkle.append_leaves``, what the append pays anyway).
CPU time of this process (``time.process_time``), median of ``--repeat`` rounds.

To compare two commits, run the script with each tree's sources first on the path, in turns:

    PYTHONPATH=/tmp/old/src .venv/bin/python scripts/bench/bench_heads_plan.py
    .venv/bin/python scripts/bench/bench_heads_plan.py [--streams 100,1000,100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from ledger.crypto.suites import INTL
from ledger.log import merkle
from ledger.log.headmap import StreamHead
from ledger.log.heads import CurrentHeads


def rounds(streams: int, batch: int, filings: int, repeat: int) -> tuple[float, float]:
    """(plan + commit, Merkle baseline) CPU µs per filing, medians of ``repeat`` rounds."""
    ids = [uuid.UUID(bytes=os.urandom(16)) for _ in range(streams)]
    current = CurrentHeads.build(INTL, {s: StreamHead(1, os.urandom(32), i)
                                        for i, s in enumerate(ids)}, streams)
    seqs = dict.fromkeys(ids, 1)
    size, cursor = streams, 0
    edge: dict[merkle.NodeId, bytes] = {}
    tree_size = 0
    ours, base = [], []
    for _ in range(repeat):
        plans = []
        for _ in range(filings // batch):
            changes = {}
            for i in range(batch):
                stream = ids[(cursor + i) % streams]
                seqs[stream] += 1
                changes[stream] = StreamHead(seqs[stream], os.urandom(32), size + i)
            cursor += batch
            plans.append((size, changes, size + batch))
            size += batch
        t0 = time.process_time()
        for base_size, changes, version in plans:
            update = current.plan(base_size, changes, version)
            assert update is not None
            current.commit(update)
        ours.append((time.process_time() - t0) / filings * 1e6)
        digests = [os.urandom(32) for _ in range(filings)]
        t0 = time.process_time()
        for start in range(0, filings, batch):
            _, edge = merkle.append_leaves(INTL.hash, tree_size, edge,
                                           digests[start:start + batch])
            tree_size += batch
        base.append((time.process_time() - t0) / filings * 1e6)
    return statistics.median(ours), statistics.median(base)


def main() -> None:
    """Measure and print the table."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", default="100,1000,100000")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--filings", type=int, default=2000, help="filings a round")
    a = p.parse_args()
    rows = []
    for streams in (int(s) for s in a.streams.split(",")):
        for name, batch in (("group of 100", 100), ("one filing", 1)):
            ours, base = rounds(streams, batch, a.filings, a.repeat)
            rows.append([f"{streams:,}", name, f"{ours:.1f}", f"{base:.1f}",
                         f"{ours / base:.1f}x"])
    c.table("Stream heads map: plan + commit, CPU µs per filing (median of rounds)",
            ["streams", "commit", "heads map µs", "Merkle tree µs (baseline)", "map / tree"],
            rows)


if __name__ == "__main__":
    main()
