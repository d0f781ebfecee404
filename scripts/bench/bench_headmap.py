"""Cost of the stream heads map (docs/evidence-format.md, Stream heads map) next to the log's hashing.

For in-memory maps of 10^3, 10^4 and 10^5 streams, one batch moves the heads of 100 existing
streams (``HeadMap.apply``): hashes per update and CPU microseconds per changed stream, beside
the baseline the append already pays, hashing 100 log leaves into the RFC 9162 tree of the same
size (``merkle.append_leaves``, as the writer does), and their ratio. Then proof sizes (siblings,
bytes, JSON) and the CPU cost of ``prove`` and ``verify_head``.

Times are CPU time of this process (``time.process_time``), median of ``--repeat`` batches, so
other processes on the machine disturb them little. Hash counts are exact (a counting suite).

    .venv/bin/python scripts/bench/bench_headmap.py [--quick] [--repeat 7] [--profiles intl,gm]
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from ledger.crypto.suites import PROFILES, HashSuite, Profile
from ledger.log import merkle
from ledger.log.headmap import (
    HeadMap,
    MemoryNodeStore,
    StreamHead,
    proof_to_json,
    verify_head,
)

BATCH = 100


@dataclass
class CountingHash:
    """A hash suite that counts its calls (for hash counts only; timings use the plain suite)."""

    inner: HashSuite
    calls: int = 0

    @property
    def name(self) -> str:
        """The wrapped suite's name."""
        return self.inner.name

    def digest(self, data: bytes) -> bytes:
        """Count, then hash."""
        self.calls += 1
        return self.inner.digest(data)


def cpu_us(fn: Callable[[], Any]) -> float:
    """CPU microseconds of one call."""
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1e6


class Workload:
    """A map of ``n`` streams (one head each, log size ``n``) and the log tree beside it."""

    def __init__(self, profile: Profile, n: int, seed: int) -> None:
        self.profile = profile
        self.rng = random.Random(seed)
        self.streams = [uuid.UUID(int=self.rng.getrandbits(128), version=4) for _ in range(n)]
        self.heads = {s: StreamHead(1, self.rng.randbytes(32), i)
                      for i, s in enumerate(self.streams)}
        self.store = MemoryNodeStore()
        self.map = HeadMap(profile, self.store)
        self.map.apply(self.heads, version=n)
        self.size = n
        _, self.edge = merkle.append_leaves(profile.hash, 0, {},
                                            [h.entry_hash for h in self.heads.values()])
        self.log_size = n
        # The long-lived nodes out of the collector's way, as the writer process does
        # (api.serving.tune_for_serving): otherwise a full collection over the 10^5-stream map
        # lands inside some batches (medians hide it, means would not).
        gc.freeze()

    def next_batch(self) -> dict[uuid.UUID, StreamHead]:
        """100 distinct existing streams, each one entry further, appended after the log."""
        changes = {}
        for offset, stream in enumerate(self.rng.sample(self.streams, BATCH)):
            old = self.heads[stream]
            changes[stream] = StreamHead(old.seq + 1, self.rng.randbytes(32), self.size + offset)
        self.heads.update(changes)
        self.size += BATCH
        return changes

    def apply(self, changes: dict[uuid.UUID, StreamHead]) -> None:
        """One map update."""
        self.map.apply(changes)

    def append(self, entry_hashes: list[bytes]) -> None:
        """The log's hashing for the same batch: leaf hashes and completed nodes."""
        _, self.edge = merkle.append_leaves(self.profile.hash, self.log_size, self.edge,
                                            entry_hashes)
        self.log_size += len(entry_hashes)


def measure(profile: Profile, n: int, repeat: int) -> tuple[list[object], list[object]]:
    """One row of the cost table and one of the proof table for a map of ``n`` streams."""
    # Hash counts: the same workload under a counting suite (same seed, so the same batches).
    counter = CountingHash(profile.hash)
    counted = Workload(Profile(profile.name, counter, profile.signature), n, seed=n)
    map_hashes, log_hashes = [], []
    for _ in range(repeat):
        changes = counted.next_batch()
        counter.calls = 0
        counted.apply(changes)
        map_hashes.append(counter.calls)
        counter.calls = 0
        counted.append([h.entry_hash for h in changes.values()])
        log_hashes.append(counter.calls)
    # Times, with the plain suite.
    work = Workload(profile, n, seed=n)
    map_us, log_us = [], []
    for _ in range(repeat):
        changes = work.next_batch()
        entry_hashes = [h.entry_hash for h in changes.values()]
        map_us.append(cpu_us(lambda: work.apply(changes)))
        log_us.append(cpu_us(lambda: work.append(entry_hashes)))
    map_h, log_h = statistics.median(map_hashes), statistics.median(log_hashes)
    map_t, log_t = statistics.median(map_us), statistics.median(log_us)
    cost = [profile.name, f"{n:,}", map_h / BATCH, map_t / BATCH, log_h / BATCH, log_t / BATCH,
            f"{map_h / log_h:.1f}x", f"{map_t / log_t:.1f}x"]
    # Proofs at the latest version, for a sample of members and of absent streams.
    root = work.map.root()
    sample = work.rng.sample(work.streams, min(1_000, n))
    absent = [uuid.UUID(int=work.rng.getrandbits(128), version=4) for _ in range(200)]
    sizes, json_sizes, prove_us, verify_us = [], [], [], []
    for stream in [*sample, *absent]:
        start = time.process_time()
        head, proof = work.map.prove(stream)
        middle = time.process_time()
        verify_head(profile, root, stream, head, proof)
        end = time.process_time()
        prove_us.append((middle - start) * 1e6)
        verify_us.append((end - middle) * 1e6)
        sizes.append(len(proof.siblings))
        json_sizes.append(len(json.dumps(proof_to_json(proof), separators=(",", ":"))))
    member_sizes = sizes[: len(sample)]
    rfc9162 = statistics.mean(len(merkle.inclusion_ranges(work.rng.randrange(work.log_size),
                                                          work.log_size)) for _ in range(1_000))
    proofs = [profile.name, f"{n:,}", statistics.mean(member_sizes), max(member_sizes),
              statistics.mean(sizes[len(sample):]), 32 * statistics.mean(member_sizes),
              statistics.mean(json_sizes), rfc9162, statistics.median(prove_us),
              statistics.median(verify_us), f"{len(work.store):,}"]
    return cost, proofs


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=100_000, quick_n=10_000)
    p.add_argument("--profiles", default="intl,gm", help="comma-separated: intl, gm")
    args = p.parse_args()
    top, repeat = c.size(args), max(3, args.repeat)
    c.header("heads map (in memory) vs log leaf hashing", args)
    sizes = [n for n in (1_000, 10_000, 100_000) if n <= top]
    cost_rows, proof_rows = [], []
    for name in args.profiles.split(","):
        for n in sizes:
            cost, proofs = measure(PROFILES[name], n, repeat)
            cost_rows.append(cost)
            proof_rows.append(proofs)
            print(f"  {name} {n:,}: done", flush=True)
    c.table(f"Heads map update, batch of {BATCH} changed streams (median of {repeat} batches)",
            ["profile", "streams", "map hashes / stream", "map CPU us / stream",
             "log hashes / leaf", "log CPU us / leaf", "hashes ratio", "time ratio"], cost_rows)
    c.table("Heads map proofs at the latest version (1,000 members, 200 absent streams)",
            ["profile", "streams", "mean siblings", "max siblings", "mean siblings (absent)",
             "mean bytes (siblings)", "mean JSON bytes", "RFC 9162 mean path, same size",
             "prove CPU us", "verify CPU us", "node versions stored"], proof_rows)


if __name__ == "__main__":
    main()
