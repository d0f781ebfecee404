"""Issue 4 figures: 64 concurrent HTTP clients on loopback against PostgreSQL, ours next to a
minimal FastAPI endpoint doing one bare eventsourcing save per request, in the same run.

    .venv/bin/python scripts/bench/bench_http.py --requests 6000 --clients 64
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _loadgen as loadgen

from ledger.app import Ledger
from ledger.log.entries import Filing, b64encode
from ledger.measures.catalogue import EXAMPLES, example_documents
from ledger.measures.roles import Role
from ledger.settings import Settings

PG = "postgresql://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app: str, env: dict[str, str], workers: int = 1,
           ) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    command = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log",
               "--workers", str(workers)]
    if app.startswith("api.") and os.environ.get("BENCH_YAPPI"):  # diagnosis: profile ours
        command = [sys.executable, str(ROOT / "scripts" / "bench" / "_profiled_server.py"),
                   str(port)]
    process = subprocess.Popen(
        command,
        env=dict(os.environ, PYTHONPATH=f"{ROOT / 'scripts' / 'bench'}:{ROOT / 'src'}", **env),
        cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=open(os.environ["BENCH_SERVER_LOG"], "ab") if os.environ.get("BENCH_SERVER_LOG")  # noqa: SIM115
        else subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/openapi.json", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{app} did not start")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _measured(pid: int, url: str, requests: list[loadgen.Request],
              clients: int) -> dict[str, float]:
    """Run the load and add the server's CPU per request (both cores are shared) and how
    busy the machine was (server, generator and PostgreSQL together)."""
    before, (busy, total) = _cpu_seconds(pid), _machine_ticks()
    figures = loadgen.run(url, requests, clients)
    figures["server_cpu_ms_per_request"] = round(
        (_cpu_seconds(pid) - before) * 1000 / len(requests), 3)
    busy_after, total_after = _machine_ticks()
    figures["machine_busy"] = round((busy_after - busy) / max(total_after - total, 1), 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=500,
                        help="untimed requests to each server first (caches, connections)")
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn worker processes for ours (the baseline gets one)")
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
            tokens[unit] = ledger.tokens.issue(unit)
            signer = ledger.identity.profile.signature.generate()
            signers[unit] = (ledger.register_public_key(unit, signer.public_key).key_id, signer)
        projects = [(units[i % 8], ledger.file(units[i % 8], "ApplicationFiled",
                                               EXAMPLES["ApplicationFiled"]).stream)
                    for i in range(args.projects)]
        origin, today = ledger.identity.origin, ledger.today()
        ledger.close()
        # `test`: the ledger built above is sealed under the placeholder master key, which
        # any other environment refuses outside a demo database (docs/keys.md).
        ours, ours_url = _serve("api.app:create_app", {"LEDGER_DATABASE_URL": url,
                                                       "LEDGER_POOL_SIZE": "10",
                                                       "LEDGER_ENVIRONMENT": "test"},
                                args.workers)
        processes.append(ours)
        bare, bare_url = _serve("bare_app:create_app", {"BARE_SCHEMA": bare_schema})
        processes.append(bare)
        body = {"type": "MaterialsSupplemented", "payload": EXAMPLES["MaterialsSupplemented"]}
        jobs = [projects[i % len(projects)] for i in range(args.requests)]
        path = "/api/v1/projects/{}/events"
        # Every request is built (and client-signed) before the clock starts.
        custodial = [loadgen.build(ours_url, "POST", path.format(stream), body, {
            "Authorization": f"Bearer {tokens[unit]}"}) for unit, stream in jobs]

        def signed(unit: str, stream: uuid.UUID) -> loadgen.Request:
            key_id, signer = signers[unit]
            filing = Filing(ledger=origin, stream=stream, type="MaterialsSupplemented",
                            effective=today, payload=EXAMPLES["MaterialsSupplemented"],
                            actor=unit, key=key_id, nonce=uuid.uuid4())
            return loadgen.build(ours_url, "POST", path.format(stream), body | {
                "effective": today.isoformat(), "key": key_id, "nonce": str(filing.nonce),
                "signature": b64encode(signer.sign(filing.signing_bytes()))}, {
                "Authorization": f"Bearer {tokens[unit]}"})

        client_signed = [signed(unit, stream) for unit, stream in jobs]
        client = httpx.Client()
        dossiers = [client.post(f"{bare_url}/open", json={"payload": EXAMPLES["ApplicationFiled"]}
                                ).json()["id"] for _ in range(args.projects)]
        baseline = [loadgen.build(bare_url, "POST", f"/file/{dossiers[i % len(dossiers)]}",
                                  {"payload": EXAMPLES["MaterialsSupplemented"]})
                    for i in range(args.requests)]
        # Both servers first serve untimed requests: a cold start (each project read once,
        # connections opened, statements prepared) is not what the figures are about.
        if args.warmup:
            loadgen.run(ours_url, custodial[:args.warmup], args.clients)
            loadgen.run(bare_url, baseline[:args.warmup], args.clients)
        spy = None
        if os.environ.get("BENCH_PYSPY"):  # diagnosis: sample the server during the run
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(ours.pid), "--format",
                                    "raw", "--threads", "--gil", "--rate", os.environ.get("BENCH_PYSPY_RATE", "100"), "-o", os.environ["BENCH_PYSPY"]])
            time.sleep(1)
        ours_custodial = _measured(ours.pid, ours_url, custodial, args.clients)
        if os.environ.get("BENCH_YAPPI"):
            ours.send_signal(signal.SIGUSR1)
            time.sleep(5)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait()
        noop = [loadgen.build(bare_url, "POST", f"/noop/{dossiers[i % len(dossiers)]}",
                              {"payload": EXAMPLES["MaterialsSupplemented"]})
                for i in range(args.requests)]
        results = {"fastapi_noop": _measured(bare.pid, bare_url, noop, args.clients),
                   "bare_eventsourcing": _measured(bare.pid, bare_url, baseline, args.clients),
                   "ours_custodial": ours_custodial,
                   "ours_client_signed": _measured(ours.pid, ours_url, client_signed,
                                                   args.clients)}
        results["ratio_ours_to_bare"] = round(
            results["ours_custodial"]["per_s"] / results["bare_eventsourcing"]["per_s"], 2)  # type: ignore[assignment]
        results["ratio_signed_to_custodial"] = round(
            results["ours_client_signed"]["per_s"] / results["ours_custodial"]["per_s"], 2)  # type: ignore[assignment]
        print(json.dumps({"clients": args.clients, "requests": args.requests,
                          "workers": args.workers, **results}))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{ours_schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{bare_schema}" CASCADE')



if __name__ == "__main__":
    main()
