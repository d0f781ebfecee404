"""A database outage under load: the real server (uvicorn, with its writer process) reaches
PostgreSQL through a TCP proxy this test cuts and restores, while clients file and read.

Every answer must be a success, a refusal the client can act on, or 503 problem+json with
``Retry-After`` — never a 500 or a plain-text error; no request may hang (a filing waits at most
``LEDGER_POOL_TIMEOUT`` for a connection); once the database is back, requests succeed again;
every acknowledged filing is in the ledger exactly once and ``ledger verify`` holds. The
proxy, not the shared PostgreSQL server, is what goes down, so other tests are undisturbed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from ledger.app import Ledger
from ledger.evidence.verify import verify_ledger
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings
from ledgertest import upload_example_documents

ROOT = Path(__file__).resolve().parents[2]
POOL_TIMEOUT = 1  # seconds a request may wait for a connection (LEDGER_POOL_TIMEOUT)
SLOWEST = POOL_TIMEOUT + 8.0  # the longest any answer may take, outage (4 s) or not, busy or not


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut (every connection reset, new ones refused)
    and restored on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = _free_port()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        """Accept connections again."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and reset every open one, as a database that went away."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            _close(s)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(target)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked on it
    s.close()


@pytest.fixture
def proxied(pg_schema_url: str) -> Iterator[tuple[str, Proxy]]:
    """The test schema's URL through a proxy of its own."""
    parts = urlsplit(pg_schema_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}"
    yield urlunsplit(parts._replace(netloc=netloc)), proxy
    proxy.cut()


def _serve(database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, LEDGER_DATABASE_URL=database_url, LEDGER_ENVIRONMENT="test",
               LEDGER_POOL_SIZE="4", LEDGER_POOL_TIMEOUT=str(POOL_TIMEOUT))
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def test_an_outage_gives_503s_never_500s_and_nothing_hangs(
        pg_schema_url: str, proxied: tuple[str, Proxy]) -> None:
    ledger = Ledger(Settings(database_url=pg_schema_url, environment="test"))
    ledger.initialise()
    upload_example_documents(ledger)
    ledger.register_actor("edu-wang", Role.UNIT, "edu", "edu")
    ledger.register_actor("office-li", Role.OFFICE, None, "office")
    project = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    tokens = {actor: ledger.tokens.issue(actor) for actor in ("edu-wang", "office-li")}
    url_through_proxy, proxy = proxied
    process, url = _serve(url_through_proxy)
    statuses: Counter[tuple[str, int]] = Counter()
    accepted: list[str] = []
    slowest = 0.0
    lock = threading.Lock()
    stop = threading.Event()
    body = {"type": "MaterialsSupplemented", "payload": EXAMPLES["MaterialsSupplemented"]}

    def client(n: int) -> None:
        nonlocal slowest
        actor = ("edu-wang", "office-li")[n % 2]
        headers = {"Authorization": f"Bearer {tokens[actor]}"}
        with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
            while not stop.is_set():
                started = time.monotonic()
                if actor == "edu-wang":
                    what = "filing"
                    response = http.post(f"/api/v1/projects/{project}/events", json=body)
                else:
                    what = "read"
                    response = http.get(f"/api/v1/projects/{project}/events")
                took = time.monotonic() - started
                problem = response.headers.get("content-type") == "application/problem+json"
                with lock:
                    slowest = max(slowest, took)
                    statuses[what, response.status_code] += 1
                    if response.status_code == 201:
                        accepted.append(response.json()["entry_hash"])
                assert response.status_code in (200, 201, 409, 503), response.text[:300]
                if response.status_code == 503:
                    assert problem, response.text[:300]
                    assert int(response.headers["retry-after"]) >= 1
                    time.sleep(0.2)
                if response.status_code >= 400:
                    assert problem, response.text[:300]

    try:
        with ThreadPoolExecutor(4) as pool:
            running = [pool.submit(client, n) for n in range(4)]
            time.sleep(2)
            before = sum(statuses.values())
            proxy.cut()
            time.sleep(4)
            proxy.restore()
            time.sleep(6)
            after = Counter(statuses)
            time.sleep(2)
            stop.set()
            for future in running:
                future.result()
        last = statuses - after
    finally:
        stop.set()
        process.terminate()
        process.wait(timeout=30)
    assert before > 0
    # The outage's 503s, counted until a few seconds after it ended: on a busy machine a
    # request cut off near its end may be answered after the restore.
    assert sum(n for (_, status), n in (after - Counter()).items() if status == 503) > 0
    assert not any(status >= 500 and status != 503 for _, status in statuses), statuses
    assert slowest < SLOWEST, (slowest, statuses)
    assert last["filing", 201] > 0, (last, statuses)  # back once the database is
    assert last["read", 200] > 0, (last, statuses)
    assert not any(status == 503 for _, status in last), (last, statuses)
    stored = [event.entry_hash for event in ledger.events_of(project)]
    assert len(stored) == len(set(stored))
    assert set(accepted) <= set(stored)  # every acknowledged filing, once
    assert verify_ledger(ledger.log, ledger.identity, workers=1).ok
    ledger.close()
