"""Evidence: ``ledger export`` and ``ledger verify-bundle`` of a large project; proof latency.

Export:   ``projections.evidence.export_bundle`` of one project of ``--n`` entries (an
          ApplicationFiled then MaterialsSupplemented filings, group commits of 100), which
          includes verifying the bundle it built (log and root key pinned).
Verify:   ``ledger.evidence.bundle.verify_bundle`` of that bundle, offline (steps 1-8 of docs/design.md §5).
Proofs:   ``ledger.proofs.inclusion_proof`` / ``consistency_proof`` (what ``GET /log/proof/*`` calls:
          O(log n) stored nodes in one query) at ``--proof-leaves`` leaves, directly and over
          HTTP (FastAPI TestClient, bearer token). The tree is grown past the ledger's own
          entries with synthetic leaves (random entry hashes; nodes computed with
          ``merkle.append_leaves``) written straight into a throwaway database: proofs read
          only ``log_nodes`` and the leaf count, so their cost does not depend on what the
          leaves commit to, and a real 100k-entry build would take minutes.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import psycopg

from ledger.app import Ledger
from ledger.evidence.bundle import verify_bundle
from ledger.log import merkle
from ledger.log.entries import b64encode
from ledger.measures.roles import Role
from projections.evidence import export_bundle


def build_project(ledger: Ledger, n: int) -> Any:
    """One project of ``n`` entries, filed in group commits of 100."""
    opened = ledger.file(c.ACTOR, "ApplicationFiled", c.OPEN_PAYLOAD)
    remaining = n - 1
    while remaining > 0:
        count = min(100, remaining)
        c.submit_all(ledger, [ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                             stream=opened.stream) for _ in range(count)])
        remaining -= count
    return opened.stream


def _raw_writer(url: str) -> Any:
    """A DB-API connection to the ledger's database (and the placeholder style)."""
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///")), "?"
    parts = urlsplit(url)
    conn = psycopg.connect(parts._replace(query="").geturl())
    conn.execute(f'SET search_path TO "{parse_qs(parts.query)["schema"][0]}"')
    return conn, "%s"


def grow_synthetic(ledger: Ledger, url: str, total: int) -> None:
    """Extend the log to ``total`` leaves with random entry hashes (bench databases only)."""
    h = ledger.identity.profile.hash
    size = ledger.log.tree_size()
    edge = ledger.log.nodes(merkle.root_nodes(size))
    rng = random.Random(7)
    conn, mark = _raw_writer(url)
    fake_stream = "00000000-0000-4000-8000-000000000000"
    stream_value = fake_stream if mark == "%s" else fake_stream.replace("-", "")
    with conn:
        cursor = conn.cursor()
        while size < total:
            count = min(20_000, total - size)
            hashes = [rng.randbytes(32) for _ in range(count)]
            nodes, edge = merkle.append_leaves(h, size, edge, hashes)
            cursor.executemany(
                f"INSERT INTO log_nodes (level, idx, hash) VALUES ({mark}, {mark}, {mark})",
                [(node.level, node.index, value) for node, value in nodes.items()])
            cursor.executemany(
                "INSERT INTO log_leaves (leaf_index, originator_id, originator_version,"
                " entry_hash, recorded_at, nonce, notification_id) VALUES"
                f" ({mark}, {mark}, {mark}, {mark}, {mark}, NULL, {mark})",
                [(size + i, stream_value, size + i + 1, digest,
                  "2099-01-01T00:00:00.000000Z", -(size + i)) for i, digest in
                 enumerate(hashes)])
            size += count
    conn.close()


def latencies(fn: Any, arguments: list[Any]) -> tuple[float, float, float]:
    """(median, p99, mean) microseconds of ``fn(*args)`` over the arguments."""
    times = []
    for args in arguments:
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1e6)
    times.sort()
    return (statistics.median(times), times[int(len(times) * 0.99) - 1],
            statistics.fmean(times))


def proof_latency(b: c.Backend, leaves: int, samples: int) -> list[list[object]]:
    """Rows of proof latencies at ``leaves`` leaves on one backend."""
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415

    url = b.ours_url()
    ledger = b.ours(url)
    ledger.register_actor("bench-audit", Role.AUDIT, None, "bench")
    t0 = time.perf_counter()
    grow_synthetic(ledger, url, leaves)
    print(f"  {b.name}: grew the tree to {leaves:,} leaves in {time.perf_counter() - t0:.1f} s",
          flush=True)
    rng = random.Random(11)
    size = ledger.log.tree_size()
    inclusion = [(rng.randrange(size), size) for _ in range(samples)]
    consistency = [(rng.randrange(1, size), size) for _ in range(samples)]
    rows: list[list[object]] = []
    med, p99, mean = latencies(ledger.proofs.inclusion_proof, inclusion)
    rows.append([b.name, size, "Ledger.proofs.inclusion_proof", med, p99, mean])
    med, p99, mean = latencies(ledger.proofs.consistency_proof, consistency)
    rows.append([b.name, size, "Ledger.proofs.consistency_proof", med, p99, mean])
    token = ledger.tokens.issue("bench-audit")
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(ledger=ledger, group_commit=False)) as client:
        def get(path: str, params: dict[str, int]) -> None:
            response = client.get(path, params=params, headers=headers)
            assert response.status_code == 200, response.text

        http = min(samples, 300)
        med, p99, mean = latencies(get, [("/log/proof/inclusion",
                                          {"leaf_index": i, "tree_size": s})
                                         for i, s in inclusion[:http]])
        rows.append([b.name, size, "GET /log/proof/inclusion", med, p99, mean])
        med, p99, mean = latencies(get, [("/log/proof/consistency", {"first": m, "second": s})
                                         for m, s in consistency[:http]])
        rows.append([b.name, size, "GET /log/proof/consistency", med, p99, mean])
    return rows


def export_and_verify(b: c.Backend, n: int, args: Any) -> list[object]:
    """One row: export and verify-bundle of a project of ``n`` entries on one backend."""
    ledger = b.ours()
    t0 = time.perf_counter()
    stream = build_project(ledger, n)
    print(f"  {b.name}: filed {n} entries in {time.perf_counter() - t0:.1f} s", flush=True)
    log_key = ledger.identity.log_key.encode()
    root_key = b64encode(ledger.identity.root_public_key)
    data = export_bundle(ledger, stream)
    t_export, _ = c.median_of(lambda: export_bundle(ledger, stream), args.repeat)
    t_verify, _ = c.median_of(
        lambda: verify_bundle(data, log_key=log_key, root_key=root_key), args.repeat)
    report = verify_bundle(data, log_key=log_key, root_key=root_key)
    assert report.entries == n
    if args.profile is not None:
        c.profile_call(lambda: export_bundle(ledger, stream), args.profile,
                       f"export_bundle of {n} entries on {b.name}", top=30)
        c.profile_call(lambda: verify_bundle(data, log_key=log_key), args.profile,
                       f"verify_bundle of {n} entries on {b.name}", top=30)
    return [b.name, n, report.registry_entries, len(data) / 1024, t_export,
            t_export / n * 1e3, t_verify, t_verify / n * 1e3]


def main() -> None:
    """Run the figures."""
    p = c.parser(__doc__ or "", n=500, quick_n=100)
    p.add_argument("--proof-leaves", type=int, default=None,
                   help="tree size for proof latency (default 100000; 10000 with --quick)")
    p.add_argument("--samples", type=int, default=2000, help="proofs timed per kind")
    args = p.parse_args()
    n = c.size(args)
    proof_leaves = args.proof_leaves or (10_000 if args.quick else 100_000)
    c.header("bench_evidence", args)
    rows: list[list[object]] = []
    proofs: list[list[object]] = []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            rows.append(export_and_verify(b, n, args))
            proofs.extend(proof_latency(b, proof_leaves, args.samples))
    c.table("Evidence bundle of one project (median; export includes its own verification)",
            ["backend", "entries", "registry", "bundle KiB", "export s", "export ms/entry",
             "verify-bundle s", "verify ms/entry"], rows)
    c.table(f"Proof latency from stored nodes ({args.samples} random proofs; HTTP: up to 300)",
            ["backend", "leaves", "call", "median us", "p99 us", "mean us"], proofs)


if __name__ == "__main__":
    main()
