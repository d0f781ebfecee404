"""Helpers of the web-page tests (importable as ``pagestest``; their fixtures are in conftest.py):
the demo ledger behind the ASGI app or a real server on loopback, signing in, and where the
browser tests find Debian's Chromium."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from ledger.app import Ledger
from ledger.demo import DemoResult
from ledgertest import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = os.environ.get("LEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_problem() -> str | None:
    """Why the browser tests cannot run here (no ``playwright`` package, no Chromium), or None."""
    try:
        import playwright.sync_api  # noqa: F401, PLC0415
    except ImportError:
        return "the playwright package is not installed (pip install playwright==1.65.2)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


def csrf_of(html: str) -> str:
    """The CSRF token of the form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in_client(client: TestClient, token: str) -> Response:
    """Sign a test client in through the sign-in form (signed out first); the 303 answer."""
    client.cookies.clear()
    page = client.get("/signin")
    response = client.post("/signin", data={"csrf": csrf_of(page.text), "token": token,
                                            "next": "/projects"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


@dataclass
class DemoActors:
    """A demo ledger, its projects by key and its actors' tokens (issued on first use)."""

    ledger: Ledger
    result: DemoResult
    tokens: dict[str, str]

    def project(self, key: str) -> UUID:
        return self.result.projects[key]

    def token(self, actor: str) -> str:
        if actor not in self.tokens:
            self.tokens[actor] = self.ledger.tokens.issue(actor)
        return self.tokens[actor]


@dataclass
class Demo(DemoActors):
    """An app over a private copy of the demo ledger, signed in as one actor at a time."""

    client: TestClient

    def sign_in(self, actor: str) -> None:
        sign_in_client(self.client, self.token(actor))

    def bearer(self, actor: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(actor)}"}

    def csrf(self, path: str) -> str:
        return csrf_of(self.client.get(path).text)


def copy_ledger(source: Path, folder: Path) -> str:
    """Copy the SQLite ledger file ``source`` (with its -wal and -shm) into ``folder``; its URL."""
    for path in source.parent.iterdir():
        if path.name.startswith(source.name):
            shutil.copy(path, folder / path.name)
    return f"sqlite:///{folder / source.name}"


@dataclass
class Live(DemoActors):
    """The app served on loopback over a demo ledger."""

    url: str


@contextmanager
def served_in_thread(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread of this process on a free loopback port; its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sign_in(page: Page, live: Live, actor: str, start: str = "/projects") -> None:
    """Open ``start`` in the browser, sign in on the page it leads to, and come back to it."""
    page.goto(live.url + start)
    assert "/signin" in page.url
    page.get_by_label("访问令牌").fill(live.token(actor))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live.url + start)


class Gate:
    """``ledger verify`` held at its first progress report until :meth:`open` (the
    ``verify_gate`` fixture puts it in the service's way), so that a test sees a run under way."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self._open = threading.Event()

    def open(self) -> None:
        """Let the run go on."""
        self._open.set()

    def hold(self, progress: Callable[[int, int], None]) -> Callable[[int, int], None]:
        """``progress``, then wait at the gate."""
        def held(checked: int, total: int) -> None:
            progress(checked, total)
            self.reached.set()
            assert self._open.wait(30), "the test never opened the gate"
        return held

