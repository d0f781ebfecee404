"""Evidence: ``ledger export`` and ``ledger verify-bundle`` of a large project; proof latency.

Export:   ``projections.evidence.export_bundle`` of one project of ``--n`` entries (an
          ApplicationFiled then MaterialsSupplemented filings, group commits of 100), which
          includes verifying the bundle it built (log and root key pinned).
Verify:   ``ledger.evidence.bundle.verify_bundle`` of that bundle, offline (steps 1-8 of docs/design.md §5).
Proofs:   ``ledger.proofs.inclusion_proof`` / ``consistency_proof`` / ``head_proof`` (what
          ``GET /log/proof/*`` calls: O(log n) stored nodes in one query; a head proof reads
          its path through the stored heads map in one query) at ``--proof-leaves`` leaves
          over ``--head-streams`` streams, directly and over HTTP (FastAPI TestClient, bearer
          token): the client's round trip, and the server's own time (the access log's ``ms``,
          from the first byte of the request to the last of the answer, in the app). The log is
          grown past the ledger's own entries with synthetic leaves written straight into a
          throwaway database, in batches of ``--head-batch`` leaves as a writer would commit
          them: each leaf a random entry hash on a random stream (its next seq), the Merkle
          nodes (``merkle.append_leaves``), the batch's heads map version (the writer's own
          ``CurrentHeads.plan``: the rows an append writes) and a checkpoint signed with the
          log key carrying its ``heads`` line. Proofs read only stored nodes, so their cost
          does not depend on what the leaves commit to, and a real build of a million entries
          would take hours.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import psycopg

from ledger.app import Ledger
from ledger.evidence.bundle import verify_bundle
from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint, sign_checkpoint
from ledger.log.entries import b64encode
from ledger.log.headmap import checkpoint_extension
from ledger.log.heads import CurrentHeads, head_changes
from ledger.measures.catalogue import EXAMPLES
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


def _stream_value(stream: uuid.UUID, mark: str) -> object:
    """A stream id as the backend stores it (uuid in PostgreSQL, hex text in SQLite)."""
    return stream if mark == "%s" else stream.hex


def _insert(cursor: Any, mark: str, table: str, columns: str, rows: list[tuple[Any, ...]],
            ) -> None:
    """Rows into a table: COPY on PostgreSQL, executemany on SQLite."""
    if mark == "%s":
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join([mark] * len(columns.split(",")))
    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def grow_synthetic(ledger: Ledger, url: str, total: int, streams: int,
                   batch: int) -> list[uuid.UUID]:
    """Extend the log to ``total`` leaves over ``streams`` synthetic streams (bench databases
    only), in batches of ``batch`` leaves: leaves, Merkle nodes, the heads map's version of
    each batch and a signed checkpoint with its heads line. Returns the streams' ids."""
    identity = ledger.identity
    profile, h = identity.profile, identity.profile.hash
    signer, name = ledger.custody.signer("log"), identity.log_key.name
    size = ledger.log.tree_size()
    edge = ledger.log.nodes(merkle.root_nodes(size))
    real = head_changes((leaf.originator_id, leaf.originator_version, leaf.entry_hash,
                         leaf.leaf_index) for leaf, _ in ledger.log.iter_log())
    heads = CurrentHeads.build(profile, real, size)
    rng = random.Random(7)
    ids = [uuid.UUID(bytes=rng.randbytes(16), version=4) for _ in range(streams)]
    seqs = [0] * streams
    conn, mark = _raw_writer(url)
    with conn:
        cursor = conn.cursor()
        while size < total:
            count = min(batch, total - size)
            leaves: list[tuple[Any, ...]] = []
            moved: list[tuple[uuid.UUID, int, bytes, int]] = []
            for i in range(count):
                pick = rng.randrange(streams)
                seqs[pick] += 1
                digest = rng.randbytes(32)
                leaves.append((size + i, _stream_value(ids[pick], mark), seqs[pick], digest,
                               "2099-01-01T00:00:00.000000Z", None, -(size + i + 1)))
                moved.append((ids[pick], seqs[pick], digest, size + i))
            nodes, edge = merkle.append_leaves(h, size, edge, [row[3] for row in leaves])
            update = heads.plan(size, head_changes(moved), size + count)
            assert update is not None
            heads.commit(update)
            size += count
            root = merkle.range_hash(h, 0, size, edge)
            note = sign_checkpoint(Checkpoint(identity.origin, size, root,
                                              (checkpoint_extension(update.root),)),
                                   name, signer)
            _insert(cursor, mark, "log_leaves", "leaf_index, originator_id, originator_version,"
                    " entry_hash, recorded_at, nonce, notification_id", leaves)
            _insert(cursor, mark, "log_nodes", "level, idx, hash",
                    [(node.level, node.index, value) for node, value in nodes.items()])
            _insert(cursor, mark, "head_nodes", "depth, prefix, version, node",
                    [(depth, prefix, version, node)
                     for version, depth, prefix, node in update.rows()])
            _insert(cursor, mark, "log_checkpoints", "size, root, note",
                    [(size, root, note.text())])
            if size % (50 * batch) < batch:
                conn.commit()
                print(f"    … {size:,} leaves", flush=True)
    conn.close()
    return ids


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


class _ServerTimes(logging.Handler):
    """Keeps the server's own time of each request (the access log's ``ms``)."""

    def __init__(self) -> None:
        super().__init__()
        self.ms: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and "ms" in fields:
            self.ms.append(float(fields["ms"]))


def _stats(values: list[float]) -> tuple[float, float, float]:
    """(median, p99, mean) of microsecond values."""
    values = sorted(values)
    return (statistics.median(values), values[max(int(len(values) * 0.99) - 1, 0)],
            statistics.fmean(values))


def proof_latency(b: c.Backend, leaves: int, samples: int, streams: int,
                  batch: int) -> list[list[object]]:
    """Rows of proof latencies at ``leaves`` leaves over ``streams`` streams on one backend."""
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415

    url = b.ours_url()
    ledger = b.ours(url)
    ledger.register_actor("bench-audit", Role.AUDIT, None, "bench")
    t0 = time.perf_counter()
    ids = grow_synthetic(ledger, url, leaves, streams, batch)
    print(f"  {b.name}: grew the log to {leaves:,} leaves over {streams:,} streams (batches of"
          f" {batch:,}, heads map and checkpoints included) in {time.perf_counter() - t0:.1f} s",
          flush=True)
    rng = random.Random(11)
    size = ledger.log.tree_size()
    first = ledger.log.iter_checkpoints()
    sizes = [cp.size for cp in first if cp.size > size // 2]  # checkpoints of the grown log
    inclusion = [(rng.randrange(size), size) for _ in range(samples)]
    consistency = [(rng.randrange(1, size), size) for _ in range(samples)]
    # Head proofs: three streams in four of the map, one with no entry (non-inclusion).
    asked = [ids[rng.randrange(len(ids))] if rng.random() < 0.75 else uuid.uuid4()
             for _ in range(samples)]
    older = [(stream, rng.choice(sizes)) for stream in asked]
    rows: list[list[object]] = []
    med, p99, mean = latencies(ledger.proofs.inclusion_proof, inclusion)
    rows.append([b.name, size, "Ledger.proofs.inclusion_proof", med, p99, mean])
    med, p99, mean = latencies(ledger.proofs.consistency_proof, consistency)
    rows.append([b.name, size, "Ledger.proofs.consistency_proof", med, p99, mean])
    med, p99, mean = latencies(ledger.proofs.head_proof, [(s, size) for s in asked])
    rows.append([b.name, size, "Ledger.proofs.head_proof (latest checkpoint)", med, p99, mean])
    med, p99, mean = latencies(ledger.proofs.head_proof, older)
    rows.append([b.name, size, "Ledger.proofs.head_proof (older checkpoints)", med, p99, mean])
    token = ledger.tokens.issue("bench-audit")
    # A project the real server files on once, so that it appends and holds the map.
    filer = (ledger.tokens.issue(c.ACTOR),
             ledger.file(c.ACTOR, "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream)
    headers = {"Authorization": f"Bearer {token}"}
    server = _ServerTimes()
    access = logging.getLogger("api.access")
    with TestClient(create_app(ledger=ledger, group_commit=False)) as client:
        access.addHandler(server)

        def get(path: str, params: dict[str, Any]) -> None:
            response = client.get(path, params=params, headers=headers)
            assert response.status_code == 200, response.text

        def timed(label: str, calls: list[tuple[str, dict[str, Any]]]) -> None:
            server.ms.clear()
            med, p99, mean = latencies(get, calls)
            rows.append([b.name, size, f"{label}: round trip", med, p99, mean])
            med, p99, mean = _stats([ms * 1000 for ms in server.ms])
            rows.append([b.name, size, f"{label}: server time", med, p99, mean])

        http = min(samples, 300)
        timed("GET /log/proof/inclusion", [("/log/proof/inclusion",
                                            {"leaf_index": i, "tree_size": s})
                                           for i, s in inclusion[:http]])
        timed("GET /log/proof/consistency", [("/log/proof/consistency",
                                              {"first": m, "second": s})
                                             for m, s in consistency[:http]])
        get("/log/proof/head", {"stream": str(asked[0])})  # the checkpoint's signature checked
        timed("GET /log/proof/head", [("/log/proof/head", {"stream": str(stream)})
                                      for stream in asked])
        timed("GET /log/proof/head?tree_size=older", [
            ("/log/proof/head", {"stream": str(stream), "tree_size": older_size})
            for stream, older_size in older])
        access.removeHandler(server)
    ledger.close()
    calls = [("/log/proof/head", {"stream": str(stream)}) for stream in asked]
    rows.extend(served(b.name, url, size, token, calls, filer=None))
    rows.extend(served(b.name, url, size, token, calls, filer=filer))
    return rows


def served(name: str, url: str, size: int, token: str,
           calls: list[tuple[str, dict[str, Any]]], *,
           filer: tuple[str, uuid.UUID] | None) -> list[list[object]]:
    """Head proofs from a real server: uvicorn (one process, pinned to core 0 when there are
    two) on loopback, asked by one keep-alive client (pinned to core 1); the server time is
    its access log's ``ms`` per request, read from its JSON log. Each proof is followed by a
    ``GET /healthz`` (no work at all), whose server time in the same run shows what the
    machine and the HTTP stack alone cost. ``filer`` (a unit's token and project): the
    server first files one entry, so that it holds the heads map at the newest checkpoint
    (as a server that appends does) and answers from memory; without it, every proof is
    the one read."""
    import json  # noqa: PLC0415
    import os  # noqa: PLC0415
    import socket  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    import httpx  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    two = (os.cpu_count() or 1) >= 2
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--no-access-log"]
    if two:
        command = ["taskset", "-c", "0", *command]
    env = dict(os.environ, LEDGER_DATABASE_URL=url, LEDGER_ENVIRONMENT="test",
               LEDGER_WRITER="thread")
    log = tempfile.NamedTemporaryFile(prefix="bench-evidence-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    affinity = os.sched_getaffinity(0)
    try:
        if two:
            os.sched_setaffinity(0, {1})
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(f"{base}/readyz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                          timeout=30) as client:
            if filer is not None:
                body = {"type": "MaterialsSupplemented",
                        "payload": EXAMPLES["MaterialsSupplemented"]}
                client.post(f"/api/v1/projects/{filer[1]}/events", json=body,
                            headers={"Authorization": f"Bearer {filer[0]}"},
                            ).raise_for_status()
            for path, params in calls[:100]:  # warm up: connections, caches, the checkpoint
                client.get(path, params=params).raise_for_status()
            skip = sum(1 for _ in open(log.name, encoding="utf-8"))  # noqa: SIM115
            times = []
            for path, params in calls:
                t0 = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                times.append((time.perf_counter() - t0) * 1e6)
                client.get("/healthz").raise_for_status()
        time.sleep(0.5)
    finally:
        os.sched_setaffinity(0, affinity)
        process.terminate()
        process.wait(timeout=30)
    server: dict[str, list[float]] = {"/log/proof/head": [], "/healthz": []}
    with open(log.name, encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number < skip or not line.startswith("{"):
                continue
            record = json.loads(line)
            if record.get("path") in server and record.get("status") == 200:
                server[record["path"]].append(float(record["ms"]) * 1000)
    os.unlink(log.name)
    where = "uvicorn on core 0, client on core 1" if two else "uvicorn and client on one core"
    how = "from memory (the server appended)" if filer else "one read (no append)"
    return [[name, size, f"GET /log/proof/head, {how}, real server ({where}): round trip",
             *_stats(times)],
            [name, size, f"GET /log/proof/head, {how}, real server: server time",
             *_stats(server["/log/proof/head"])],
            [name, size, "GET /healthz between them, real server: server time",
             *_stats(server["/healthz"])]]


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
    p.add_argument("--head-streams", type=int, default=None,
                   help="streams the proof log's leaves fall on (default: a tenth of"
                        " --proof-leaves)")
    p.add_argument("--head-batch", type=int, default=1000,
                   help="leaves per synthetic batch: one heads map version and checkpoint each")
    p.add_argument("--skip-export", action="store_true",
                   help="only the proof latencies (no export and verify-bundle figures)")
    args = p.parse_args()
    n = c.size(args)
    proof_leaves = args.proof_leaves or (10_000 if args.quick else 100_000)
    c.header("bench_evidence", args)
    rows: list[list[object]] = []
    proofs: list[list[object]] = []
    streams = args.head_streams or max(proof_leaves // 10, 1)
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            if not args.skip_export:
                rows.append(export_and_verify(b, n, args))
            proofs.extend(proof_latency(b, proof_leaves, args.samples, streams,
                                        args.head_batch))
    if rows:
        c.table("Evidence bundle of one project (median; export includes its own"
                " verification)",
                ["backend", "entries", "registry", "bundle KiB", "export s", "export ms/entry",
                 "verify-bundle s", "verify ms/entry"], rows)
    c.table(f"Proof latency from stored nodes ({args.samples} random proofs; inclusion and"
            f" consistency over HTTP: 300; head proofs over {streams:,} streams, a quarter of"
            " them of streams with no entry)",
            ["backend", "leaves", "call", "median us", "p99 us", "mean us"], proofs)


if __name__ == "__main__":
    main()
