"""The real server (uvicorn on loopback) under concurrent load on PostgreSQL, and killed mid-load.

Every accepted filing (201) must be in the ledger exactly once, leaf indexes dense, and
``ledger verify`` clean — also after a SIGKILL and a restart.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.app import Ledger
from ledger.evidence.verify import verify_ledger
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings
from ledgertest import upload_example_documents

UNITS = [f"unit-{i}" for i in range(8)]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A uvicorn process serving the ledger at ``url``."""

    def __init__(self, database_url: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, LEDGER_DATABASE_URL=database_url, LEDGER_ENVIRONMENT="test",
                   LEDGER_POOL_SIZE="8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the server did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop (or kill) the process."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)


@pytest.fixture
def prepared(pg_schema_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """An initialised ledger on PostgreSQL with 8 unit actors and their tokens."""
    ledger = Ledger(Settings(database_url=pg_schema_url, environment="test"))
    ledger.initialise()
    upload_example_documents(ledger)
    tokens = {}
    for unit in UNITS:
        ledger.register_actor(unit, Role.UNIT, unit, unit)
        tokens[unit] = ledger.tokens.issue(unit)
    ledger.close()
    return pg_schema_url, tokens


def _load(url: str, tokens: dict[str, str], projects: int, filings: int, clients: int,
          stop: threading.Event | None = None) -> list[dict[str, Any]]:
    """Open ``projects`` projects, then file ``filings`` events from ``clients`` threads."""
    accepted: list[dict[str, Any]] = []
    lock = threading.Lock()
    opened: list[tuple[str, str]] = []

    def post(unit: str, path: str, body: dict[str, Any]) -> None:
        if stop is not None and stop.is_set():
            return
        for _ in range(50):
            try:
                response = httpx.post(f"{url}{path}", json=body, timeout=30,
                                      headers={"Authorization": f"Bearer {tokens[unit]}"})
            except httpx.TransportError:
                return  # the server went away (the kill test)
            if response.status_code in (409, 503):  # conflict or shed load: retry
                time.sleep(0.01 * random.random())
                continue
            assert response.status_code == 201, response.text
            with lock:
                accepted.append(response.json())
                if path == "/api/v1/projects":
                    opened.append((unit, response.json()["stream"]))
            return

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda i: post(UNITS[i % len(UNITS)], "/api/v1/projects",
                                     {"payload": EXAMPLES["ApplicationFiled"]}),
                      range(projects)))
        body = {"type": "MaterialsSupplemented", "payload": EXAMPLES["MaterialsSupplemented"]}
        targets = [random.choice(opened) for _ in range(filings)] if opened else []
        list(pool.map(lambda t: post(t[0], f"/api/v1/projects/{t[1]}/events", body), targets))
    return accepted


def _check(database_url: str, accepted: list[dict[str, Any]]) -> None:
    ledger = Ledger(Settings(database_url=database_url, environment="test"))
    try:
        size = ledger.log.tree_size()
        leaves = {leaf.leaf_index: leaf for leaf, _ in ledger.log.iter_log()}
        assert sorted(leaves) == list(range(size))  # dense 0..n-1
        seen = set()
        for receipt in accepted:
            leaf = leaves[receipt["leaf_index"]]
            assert leaf.entry_hash.hex() == receipt["entry_hash"]
            assert str(leaf.originator_id) == receipt["stream"]
            key = (receipt["stream"], receipt["seq"])
            assert key not in seen
            seen.add(key)
        nonces = [leaf.nonce for leaf in leaves.values() if leaf.nonce]
        assert len(nonces) == len(set(nonces))  # every filing exactly once
        report = verify_ledger(ledger.log, ledger.identity, workers=2)
        assert report.ok, [f.describe() for f in report.failures[:5]]
    finally:
        ledger.close()


@pytest.mark.slow
def test_64_concurrent_clients_200_projects(prepared: tuple[str, dict[str, str]]) -> None:
    database_url, tokens = prepared
    server = Server(database_url)
    try:
        accepted = _load(server.url, tokens, projects=200, filings=600, clients=64)
    finally:
        server.stop()
    assert len(accepted) == 800
    _check(database_url, accepted)


@pytest.mark.slow
def test_sigkill_mid_load_loses_no_accepted_filing(
        prepared: tuple[str, dict[str, str]]) -> None:
    database_url, tokens = prepared
    server = Server(database_url)
    stop = threading.Event()
    killer = threading.Timer(1.5, lambda: (stop.set(), server.stop(signal.SIGKILL)))
    killer.start()
    try:
        accepted = _load(server.url, tokens, projects=100, filings=2000, clients=32, stop=stop)
    finally:
        killer.cancel()
        server.stop(signal.SIGKILL)
    assert server.process.returncode == -signal.SIGKILL
    assert accepted  # some filings got through before the kill
    restarted = Server(database_url)
    try:
        more = _load(restarted.url, tokens, projects=5, filings=20, clients=4)
    finally:
        restarted.stop()
    _check(database_url, accepted + more)
