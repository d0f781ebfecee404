"""Witness pushing figures: HTTP filing throughput with two witnesses configured next to the
same server without witnesses, in turns in one run, and the witness lag.

    .venv/bin/python scripts/bench/bench_witnessing.py --requests 4000 --clients 32 --rounds 3

Both servers are the same ``api.app:create_app`` on one PostgreSQL schema, started in turns
(without, with, with, without, ...) so drift on the shared machine falls on both. The witnesses
are two real ``ledger witness serve`` processes. The lag is measured from outside the server: a
sampler reads the log's newest checkpoint size from the database and each witness's newest
cosigned size from its monitoring API every 20 ms (in both kinds of turn, so both carry its
cost); a sample's lag is the time until every witness holds that size or more. Besides the
rates, the server's CPU time per request (from /proc, its own process) is compared: on a shared
machine it moves far less than the rate does.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _loadgen as loadgen
from bench_http import _measured, _port, _serve

from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES, example_documents
from ledger.measures.roles import Role
from ledger.settings import Settings

PG = "postgresql://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parents[2]


def _witness(directory: Path, name: str, log_vkey: str) -> tuple[subprocess.Popen[bytes], str,
                                                                 str]:
    """``ledger witness init`` + ``serve``: the process, its URL and its vkey."""
    state = directory / f"{name}.db"
    made = subprocess.run([sys.executable, "-m", "api.cli", "witness", "init", "--state",
                           str(state), "--name", f"bench.example/{name}", "--log-vkey", log_vkey,
                           "--json"], cwd=ROOT, capture_output=True, text=True, check=True)
    vkey = json.loads(made.stdout)["vkey"]
    port = _port()
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "witness", "serve", "--state",
                                str(state), "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return process, url, vkey
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the witness did not start")


class Sampler(threading.Thread):
    """Every 20 ms: (time, the log's newest checkpoint size, each witness's cosigned size)."""

    def __init__(self, url: str, witnesses: list[str], origin: str) -> None:
        super().__init__(daemon=True)
        parts = url.split("?schema=")
        self.dsn, self.schema = parts[0], parts[1]
        self.witnesses = witnesses
        self.path = "/" + hashlib.sha256(origin.encode()).hexdigest() + "/checkpoint"
        self.samples: list[tuple[float, int, list[int]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn, httpx.Client() as client:
            conn.execute(f'SET search_path TO "{self.schema}"')
            while not self.stop.is_set():
                now = time.monotonic()
                row = conn.execute("SELECT max(size) FROM log_checkpoints").fetchone()
                sizes = []
                for witness in self.witnesses:
                    answer = client.get(witness + self.path, timeout=5)
                    sizes.append(int(answer.text.split("\n")[1]) if answer.status_code == 200
                                 else -1)
                self.samples.append((now, int(row[0] or 0), sizes))
                self.stop.wait(0.02)

    def lags(self) -> list[float]:
        """For each sample, seconds until every witness held its size (unresolved: dropped)."""
        found = []
        for i, (start, size, _) in enumerate(self.samples):
            for when, _, sizes in self.samples[i:]:
                if min(sizes) >= size:
                    found.append(when - start)
                    break
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    schema = f"bw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG}?schema={schema}"
    directory = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-witness-{schema}"
    directory.mkdir()
    master = base64.b64encode(os.urandom(32)).decode()  # the placeholder is refused by serve
    witnesses: list[tuple[subprocess.Popen[bytes], str, str]] = []
    try:
        ledger = Ledger(Settings(database_url=url, environment="test",
                                 master_key=SecretStr(master)))
        ledger.initialise()
        for content in example_documents().values():
            ledger.add_document(content, "text/plain")
        units = [f"unit-{i}" for i in range(8)]
        tokens = {}
        for unit in units:
            ledger.register_actor(unit, Role.UNIT, unit, unit)
            tokens[unit] = ledger.tokens.issue(unit)
        projects = [(units[i % 8], ledger.file(units[i % 8], "ApplicationFiled",
                                               EXAMPLES["ApplicationFiled"]).stream)
                    for i in range(args.projects)]
        origin, log_vkey = ledger.identity.origin, ledger.identity.log_key.encode()
        ledger.close()
        witnesses = [_witness(directory, f"w{i}", log_vkey) for i in (1, 2)]
        config = ";".join(f"w{i} {u} {v}" for i, (_, u, v) in enumerate(witnesses, 1))
        body = {"type": "MaterialsSupplemented", "payload": EXAMPLES["MaterialsSupplemented"]}
        results: dict[str, list[dict[str, float]]] = {"without": [], "with": []}
        lags: list[float] = []
        order = ["without", "with"]
        for number in range(args.rounds):
            for kind in order if number % 2 == 0 else order[::-1]:
                env = {"LEDGER_DATABASE_URL": url, "LEDGER_POOL_SIZE": "10",
                       "LEDGER_MASTER_KEY": master,
                       "LEDGER_WITNESS_INTERVAL": str(args.interval),
                       "LEDGER_WITNESSES": config if kind == "with" else ""}
                server, server_url = _serve("api.app:create_app", env)
                try:
                    path = "/api/v1/projects/{}/events"
                    jobs = [loadgen.build(server_url, "POST", path.format(stream), body, {
                        "Authorization": f"Bearer {tokens[unit]}"})
                        for unit, stream in (projects[i % len(projects)]
                                             for i in range(args.requests + 300))]
                    # A server with witnesses takes filings once they have cosigned its log.
                    for _ in range(300):
                        if httpx.get(f"{server_url}/readyz", timeout=2).status_code == 200:
                            break
                        time.sleep(0.1)
                    else:
                        raise RuntimeError("the server did not become ready")
                    loadgen.run(server_url, jobs[:300], args.clients)  # warm up, untimed
                    time.sleep(max(2 * args.interval, 1.0))
                    sampler = Sampler(url, [u for _, u, _ in witnesses], origin)
                    sampler.start()
                    figures = _measured(server.pid, server_url, jobs[300:], args.clients)
                    time.sleep(3 * args.interval)  # the last pushes
                    sampler.stop.set()
                    sampler.join()
                    if kind == "with":
                        lags.extend(sampler.lags())
                    results[kind].append(figures)
                    print(kind, json.dumps(figures), flush=True)
                finally:
                    server.terminate()
                    server.wait(timeout=30)
        rates = {kind: [r["per_s"] for r in runs] for kind, runs in results.items()}
        lags.sort()
        summary = {
            "requests": args.requests, "clients": args.clients, "rounds": args.rounds,
            "interval_s": args.interval,
            "per_s_without": rates["without"], "per_s_with": rates["with"],
            "ratio_with_to_without_median": round(
                statistics.median(rates["with"]) / statistics.median(rates["without"]), 3),
            "ratio_per_round": [round(w / o, 3) for w, o in zip(rates["with"],
                                                                rates["without"], strict=True)],
            "server_cpu_ms_per_request_without": [r["server_cpu_ms_per_request"]
                                                  for r in results["without"]],
            "server_cpu_ms_per_request_with": [r["server_cpu_ms_per_request"]
                                               for r in results["with"]],
            "ratio_cpu_per_request_without_to_with_median": round(
                statistics.median(r["server_cpu_ms_per_request"] for r in results["without"])
                / statistics.median(r["server_cpu_ms_per_request"] for r in results["with"]),
                3),
            "lag_samples": len(lags),
            "lag_p50_s": round(lags[len(lags) // 2], 3) if lags else None,
            "lag_p99_s": round(lags[max(int(len(lags) * 0.99) - 1, 0)], 3) if lags else None,
            "lag_max_s": round(lags[-1], 3) if lags else None,
        }
        print(json.dumps(summary))
    finally:
        for process, _, _ in witnesses:
            process.terminate()
            process.wait(timeout=30)
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
