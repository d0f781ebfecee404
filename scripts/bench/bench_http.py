"""Issue 4 figures: 64 concurrent HTTP clients on loopback against PostgreSQL, ours next to a
minimal FastAPI endpoint doing one bare eventsourcing save per request, in the same run.

    .venv/bin/python scripts/bench/bench_http.py --requests 3000 --clients 64
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

from ledger.app import Ledger
from ledger.catalogue import EXAMPLES, example_documents
from ledger.entries import Filing, b64encode
from ledger.roles import Role
from ledger.settings import Settings

PG = "postgresql://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=dict(os.environ, PYTHONPATH=f"{ROOT / 'scripts' / 'bench'}:{ROOT / 'src'}", **env),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/openapi.json", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{app} did not start")


def _load(send: Any, jobs: list[Any], clients: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=clients * 2))

    def one(job: Any) -> None:
        t = time.perf_counter()
        while True:
            response = send(client, job)
            if response.status_code not in (409, 503):
                break
        assert response.status_code == 201, response.text
        with lock:
            latencies.append(time.perf_counter() - t)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, jobs))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"per_s": round(len(jobs) / elapsed),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--projects", type=int, default=200)
    args = parser.parse_args()
    ours_schema, bare_schema = f"bh_{uuid.uuid4().hex[:8]}", f"bb_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{ours_schema}"')
        conn.execute(f'CREATE SCHEMA "{bare_schema}"')
    url = f"{PG}?schema={ours_schema}"
    processes = []
    try:
        ledger = Ledger(Settings(database_url=url, environment="test"))
        ledger.initialise()
        for content in example_documents().values():
            ledger.add_document(content, "text/plain")
        units = [f"unit-{i}" for i in range(8)]
        tokens, signers = {}, {}
        for unit in units:
            ledger.register_actor(unit, Role.UNIT, unit, unit)
            tokens[unit] = ledger.issue_token(unit)
            signer = ledger.identity.profile.signature.generate()
            signers[unit] = (ledger.register_public_key(unit, signer.public_key).key_id, signer)
        projects = [(units[i % 8], ledger.file(units[i % 8], "ApplicationFiled",
                                               EXAMPLES["ApplicationFiled"]).stream)
                    for i in range(args.projects)]
        origin, today = ledger.identity.origin, ledger.today()
        ledger.close()
        ours, ours_url = _serve("api.app:create_app", {"LEDGER_DATABASE_URL": url,
                                                       "LEDGER_POOL_SIZE": "10"})
        processes.append(ours)
        bare, bare_url = _serve("bare_app:create_app", {"BARE_SCHEMA": bare_schema})
        processes.append(bare)
        body = {"type": "MaterialsSupplemented", "payload": EXAMPLES["MaterialsSupplemented"]}
        jobs = [projects[i % len(projects)] for i in range(args.requests)]

        def custodial(client: httpx.Client, job: tuple[str, uuid.UUID]) -> httpx.Response:
            return client.post(f"{ours_url}/api/v1/projects/{job[1]}/events", json=body,
                               headers={"Authorization": f"Bearer {tokens[job[0]]}"})

        def signed(client: httpx.Client, job: tuple[str, uuid.UUID]) -> httpx.Response:
            key_id, signer = signers[job[0]]
            filing = Filing(ledger=origin, stream=job[1], type="MaterialsSupplemented",
                            effective=today, payload=EXAMPLES["MaterialsSupplemented"],
                            actor=job[0], key=key_id, nonce=uuid.uuid4())
            return client.post(f"{ours_url}/api/v1/projects/{job[1]}/events", headers={
                "Authorization": f"Bearer {tokens[job[0]]}"}, json=body | {
                "effective": today.isoformat(), "key": key_id, "nonce": str(filing.nonce),
                "signature": b64encode(signer.sign(filing.signing_bytes()))})

        client = httpx.Client()
        dossiers = [client.post(f"{bare_url}/open", json={"payload": EXAMPLES["ApplicationFiled"]}
                                ).json()["id"] for _ in range(args.projects)]
        bare_jobs = [dossiers[i % len(dossiers)] for i in range(args.requests)]

        def baseline(client: httpx.Client, dossier: str) -> httpx.Response:
            return client.post(f"{bare_url}/file/{dossier}",
                               json={"payload": EXAMPLES["MaterialsSupplemented"]})

        results = {"bare_eventsourcing": _load(baseline, bare_jobs, args.clients),
                   "ours_custodial": _load(custodial, jobs, args.clients),
                   "ours_client_signed": _load(signed, jobs, args.clients)}
        results["ratio_ours_to_bare"] = round(
            results["ours_custodial"]["per_s"] / results["bare_eventsourcing"]["per_s"], 2)  # type: ignore[assignment]
        results["ratio_signed_to_custodial"] = round(
            results["ours_client_signed"]["per_s"] / results["ours_custodial"]["per_s"], 2)  # type: ignore[assignment]
        print(json.dumps({"clients": args.clients, "requests": args.requests, **results}))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{ours_schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{bare_schema}" CASCADE')



if __name__ == "__main__":
    main()
