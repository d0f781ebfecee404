"""Behind a TLS proxy: a real ``ledger serve`` trusts X-Forwarded-Proto and -For from the
addresses in --forwarded-allow-ips (127.0.0.1 by default), so a cookie it sets over a proxied
HTTPS request carries ``Secure``; the same headers from an address it does not trust are
ignored (a client cannot claim HTTPS or another address)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deploytest import ROOT, ledger


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('proxy') / 'ledger.db'}"
    assert ledger(url, "init").returncode == 0
    return url


def _serve(database: str, *args: str) -> Iterator[str]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEDGER_")}
    env |= {"LEDGER_DATABASE_URL": database, "LEDGER_ENVIRONMENT": "test",
            "LEDGER_WRITER": "thread"}
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port),
                                *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def trusting(database: str) -> Iterator[str]:
    yield from _serve(database)


@pytest.fixture
def distrusting(database: str) -> Iterator[str]:
    yield from _serve(database, "--forwarded-allow-ips", "10.9.8.7")


def _language_cookie(base: str, headers: dict[str, str]) -> str:
    answer = httpx.get(f"{base}/lang/en", headers=headers, timeout=10)
    assert answer.status_code == 303
    return answer.headers["set-cookie"]


def test_a_proxied_https_request_gets_secure_cookies(trusting: str) -> None:
    proxied = _language_cookie(trusting, {"X-Forwarded-Proto": "https",
                                          "X-Forwarded-For": "203.0.113.9"})
    assert "secure" in proxied.lower()
    plain = _language_cookie(trusting, {})
    assert "secure" not in plain.lower()


def test_forwarded_headers_from_an_untrusted_address_are_ignored(distrusting: str) -> None:
    claimed = _language_cookie(distrusting, {"X-Forwarded-Proto": "https"})
    assert "secure" not in claimed.lower()


def test_the_deploy_guide_names_the_option() -> None:
    guide = (Path(ROOT) / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert "--forwarded-allow-ips" in guide
