"""Behind a TLS proxy: a real ``ledger serve`` trusts X-Forwarded-Proto and -For from the
addresses in --forwarded-allow-ips (127.0.0.1 by default), so a cookie it sets over a proxied
HTTPS request carries ``Secure``; the same headers from an address it does not trust are
ignored (a client cannot claim HTTPS or another address)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deploytest import ROOT, ledger, ledger_env

from ledgertest import free_port, server_process


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('proxy') / 'ledger.db'}"
    assert ledger(url, "init").returncode == 0
    return url


def _serve(database: str, *args: str) -> Iterator[str]:
    port = free_port()
    env = ledger_env(database, LEDGER_WRITER="thread")
    with server_process([sys.executable, "-m", "api.cli", "serve", "--port", str(port), *args],
                        port, cwd=ROOT, env=env) as base:
        yield base


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
