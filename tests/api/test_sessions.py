"""Bearer tokens expire and rotate; pages sessions are server-side: the cookie carries a
session id, sign-out ends the session on the server, and it lives no longer than its token or
its lifetime (docs/api.md, Tokens and sessions)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pagestest import csrf_of, sign_in_client
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.pages.security import SESSION_COOKIE
from ledger.app import Ledger
from ledger.measures.roles import Role
from ledger.service import tokens
from ledger.settings import Settings
from ledgertest import run_sql

_OFFICE = (Role.OFFICE, None, "综合管理办公室 李")


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def _no_token_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every lookup asks the database (a live token is otherwise trusted for a second, and
    these tests move the clock by days within that second)."""
    monkeypatch.setattr(tokens, "_TOKEN_TTL", 0.0)


def _sign_in(client: TestClient, token: str) -> str:
    response = sign_in_client(client, token)
    cookie = response.cookies.get(SESSION_COOKIE)
    assert cookie
    return cookie


def _signed_in(client: TestClient, cookie: str) -> bool:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    return client.get("/projects", follow_redirects=False).status_code == 200


def _clocked(make_ledger: Callable[..., Ledger]) -> tuple[Ledger, Clock]:
    clock = Clock()
    ledger = make_ledger(clock=clock)
    ledger.initialise()
    ledger.register_actor("office-li", *_OFFICE)
    return ledger, clock


def test_tokens_expire_and_rotate(make_ledger: Callable[..., Ledger]) -> None:
    ledger, clock = _clocked(make_ledger)
    client = TestClient(create_app(ledger=ledger))
    token = ledger.tokens.issue("office-li")
    me = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=me).status_code == 200
    clock.advance(days=89)
    assert client.get("/api/v1/me", headers=me).status_code == 200
    (listed,) = ledger.tokens.tokens_of("office-li")
    assert listed.state == "live"
    issued = datetime.fromisoformat(listed.issued_at)
    assert datetime.fromisoformat(listed.expires_at) - issued == timedelta(days=90)
    clock.advance(days=2)
    expired = client.get("/api/v1/me", headers=me)
    assert expired.status_code == 401
    assert expired.headers["content-type"] == "application/problem+json"
    assert [t.state for t in ledger.tokens.tokens_of("office-li")] == ["expired"]
    fresh = ledger.tokens.rotate("office-li")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}
                      ).status_code == 200
    assert [t.state for t in ledger.tokens.tokens_of("office-li")] == ["revoked", "live"]


def test_the_token_lifetime_is_configurable(settings: Settings) -> None:
    clock = Clock()
    short = Ledger(settings.model_copy(update={"token_days": 1}), clock=clock)
    try:
        short.initialise()
        short.register_actor("office-li", *_OFFICE)
        token = short.tokens.issue("office-li")
        assert short.tokens.actor_for(token) == "office-li"
        clock.advance(days=1, seconds=1)
        assert short.tokens.actor_for(token) is None
    finally:
        short.close()


def test_the_cookie_carries_a_session_id_and_sign_out_ends_it_on_the_server(
        make_ledger: Callable[..., Ledger]) -> None:
    ledger, _ = _clocked(make_ledger)
    client = TestClient(create_app(ledger=ledger))
    token = ledger.tokens.issue("office-li")
    cookie = _sign_in(client, token)
    assert token not in cookie
    assert _signed_in(client, cookie)
    page = client.get("/projects")
    out = client.post("/signout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert not _signed_in(client, cookie)  # a copy of the cookie kept elsewhere is dead too
    assert ledger.tokens.actor_for(token) == "office-li"  # the token itself lives on
    second = _sign_in(client, token)
    assert second != cookie
    assert _signed_in(client, second)


def test_a_session_ends_with_its_lifetime_and_with_its_token(
        make_ledger: Callable[..., Ledger]) -> None:
    ledger, clock = _clocked(make_ledger)
    client = TestClient(create_app(ledger=ledger))
    cookie = _sign_in(client, ledger.tokens.issue("office-li"))
    clock.advance(hours=11)
    assert _signed_in(client, cookie)
    clock.advance(hours=1, seconds=1)
    assert not _signed_in(client, cookie)  # 12 hours by default
    cookie = _sign_in(client, ledger.tokens.issue("office-li"))
    assert _signed_in(client, cookie)
    ledger.tokens.revoke("office-li")
    assert not _signed_in(client, cookie)


def test_the_cli_lists_and_rotates_tokens(settings: Settings,
                                          make_ledger: Callable[..., Ledger]) -> None:
    ledger = make_ledger()
    ledger.initialise()
    ledger.register_actor("office-li", *_OFFICE)
    first = ledger.tokens.issue("office-li")
    env = {"LEDGER_DATABASE_URL": settings.database_url, "LEDGER_ENVIRONMENT": "test"}
    rotated = CliRunner().invoke(cli, ["actors", "token", "office-li", "--rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    second = rotated.stdout.strip()
    assert second
    assert second != first
    assert ledger.tokens.actor_for(second) == "office-li"
    listed = CliRunner().invoke(cli, ["actors", "tokens", "office-li", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [row["state"] for row in rows] == ["revoked", "live"]
    assert {"token_id", "issued_at", "expires_at"} <= set(rows[0])
    assert first not in listed.stdout
    assert second not in listed.stdout


def test_ledger_init_gives_an_older_database_the_new_tables(
        settings: Settings, make_ledger: Callable[..., Ledger]) -> None:
    ledger = make_ledger()
    ledger.initialise()
    ledger.register_actor("office-li", *_OFFICE)
    for table in ("api_sessions", "document_owners"):  # as made before them
        run_sql(settings.database_url, f"DROP TABLE {{{table}}}")
    ledger.initialise()  # what `ledger init` runs: it upgrades
    session = ledger.tokens.start_session(ledger.tokens.issue("office-li"))
    assert session is not None
    assert ledger.tokens.actor_for_session(session) == "office-li"
