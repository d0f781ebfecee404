"""A bearer token's own expiry, chosen when the administrator issues it (the CLI's
``--expires-in``, the API's ``expires_in``, the admin page's form): listed with the token,
refused (401) once passed, and ending the pages sessions signed in with it; on both backends."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pagestest import Demo, csrf_of
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from ledger.app import Ledger
from ledger.errors import ValidationFailedError
from ledger.measures.roles import Role
from ledger.service import tokens
from ledger.service.tokens import parse_lifetime
from ledger.settings import Settings
from ledgertest import run_sql


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _no_token_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every lookup asks the database (a live token is otherwise trusted for a second)."""
    monkeypatch.setattr(tokens, "_TOKEN_TTL", 0.0)


def _clocked(make_ledger: Callable[..., Ledger]) -> tuple[Ledger, Clock]:
    clock = Clock()
    ledger = make_ledger(clock=clock)
    ledger.initialise()
    ledger.register_actor("office-li", Role.OFFICE, None, "综合管理办公室 李")
    ledger.register_actor("admin-zhou", Role.ADMIN, None, "管理员 周")
    return ledger, clock


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_lifetimes_read_as_a_number_and_a_unit() -> None:
    assert parse_lifetime("30d") == timedelta(days=30)
    assert parse_lifetime(" 12H ") == timedelta(hours=12)
    assert parse_lifetime("2w") == timedelta(weeks=2)
    assert parse_lifetime("90m") == timedelta(minutes=90)
    for bad in ("30", "d", "0d", "-1d", "30x", "3661d", "1.5d"):
        with pytest.raises(ValidationFailedError):
            parse_lifetime(bad)


def test_a_tokens_own_expiry_is_kept_listed_and_enforced(
        make_ledger: Callable[..., Ledger]) -> None:
    ledger, clock = _clocked(make_ledger)
    client = TestClient(create_app(ledger=ledger))
    short = ledger.tokens.issue("office-li", timedelta(days=2))
    long = ledger.tokens.issue("office-li", timedelta(days=200))  # beyond the default 90
    plain = ledger.tokens.issue("office-li")
    listed = ledger.tokens.tokens_of("office-li")
    lifetimes = [datetime.fromisoformat(t.expires_at) - datetime.fromisoformat(t.issued_at)
                 for t in listed]
    assert lifetimes == [timedelta(days=2), timedelta(days=200), timedelta(days=90)]
    assert [_me(client, t) for t in (short, long, plain)] == [200, 200, 200]
    clock.now += timedelta(days=3)
    assert [_me(client, t) for t in (short, long, plain)] == [401, 200, 200]
    clock.now += timedelta(days=90)
    assert [_me(client, t) for t in (short, long, plain)] == [401, 200, 401]
    assert [t.state for t in ledger.tokens.tokens_of("office-li")] == [
        "expired", "live", "expired"]
    with pytest.raises(ValidationFailedError):
        ledger.tokens.issue("office-li", timedelta(0))


def test_a_session_ends_when_its_tokens_own_expiry_passes(
        make_ledger: Callable[..., Ledger]) -> None:
    ledger, clock = _clocked(make_ledger)
    session = ledger.tokens.start_session(ledger.tokens.issue("office-li", timedelta(hours=1)))
    assert session is not None
    assert ledger.tokens.actor_for_session(session) == "office-li"
    clock.now += timedelta(hours=2)  # within the session's 12 hours, past the token's hour
    assert ledger.tokens.actor_for_session(session) is None


def test_the_api_issues_a_token_with_its_own_expiry(make_ledger: Callable[..., Ledger]) -> None:
    ledger, clock = _clocked(make_ledger)
    client = TestClient(create_app(ledger=ledger))
    admin = {"Authorization": f"Bearer {ledger.tokens.issue('admin-zhou')}"}
    made = client.post("/api/v1/actors/office-li/tokens?expires_in=2d", headers=admin)
    assert made.status_code == 201, made.text
    body = made.json()
    assert datetime.fromisoformat(body["expires_at"]) == clock.now + timedelta(days=2)
    clock.now += timedelta(days=3)
    assert _me(client, body["token"]) == 401
    bad = client.post("/api/v1/actors/office-li/tokens?expires_in=soon", headers=admin)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def test_the_cli_issues_a_token_with_its_own_expiry(
        settings: Settings, make_ledger: Callable[..., Ledger]) -> None:
    ledger, _ = _clocked(make_ledger)
    env = {"LEDGER_DATABASE_URL": settings.database_url, "LEDGER_ENVIRONMENT": "test"}
    issued = CliRunner().invoke(cli, ["actors", "token", "office-li", "--expires-in", "30d"],
                                env=env)
    assert issued.exit_code == 0, issued.output
    assert ledger.tokens.actor_for(issued.stdout.strip()) == "office-li"
    listed = CliRunner().invoke(cli, ["actors", "tokens", "office-li", "--json"], env=env)
    (row,) = json.loads(listed.stdout)
    assert (datetime.fromisoformat(row["expires_at"])
            - datetime.fromisoformat(row["issued_at"])) == timedelta(days=30)
    bad = CliRunner().invoke(cli, ["actors", "token", "office-li", "--expires-in", "forever"],
                             env=env)
    assert bad.exit_code != 0
    assert "forever" in bad.output
    assert len(ledger.tokens.tokens_of("office-li")) == 1


def test_an_older_database_gets_the_expiry_table(
        settings: Settings, make_ledger: Callable[..., Ledger]) -> None:
    ledger, _ = _clocked(make_ledger)
    run_sql(settings.database_url, "DROP TABLE {api_token_expiry}")  # as made before it
    ledger.initialise()  # what `ledger init` runs: it upgrades
    token = ledger.tokens.issue("office-li", timedelta(days=1))
    assert ledger.tokens.actor_for(token) == "office-li"


def test_the_admin_page_issues_a_token_with_its_own_expiry(demo: Demo) -> None:
    demo.sign_in("admin-zhou")
    csrf = csrf_of(demo.client.get("/admin/actors/edu-wang").text)
    issued = demo.client.post("/admin/actors/edu-wang/tokens", data={
        "csrf": csrf, "action": "issue", "expires_days": "7"})
    assert issued.status_code == 200, issued.text
    token = re.search(r'data-field="new-token">([^<]+)<', issued.text)
    assert token is not None
    assert demo.ledger.tokens.actor_for(token.group(1)) == "edu-wang"
    newest = demo.ledger.tokens.tokens_of("edu-wang")[-1]
    assert (datetime.fromisoformat(newest.expires_at)
            - datetime.fromisoformat(newest.issued_at)) == timedelta(days=7)
    assert 'name="expires_days"' in issued.text
    count = len(demo.ledger.tokens.tokens_of("edu-wang"))
    for bad in ("0", "abc", "9999"):
        refused = demo.client.post("/admin/actors/edu-wang/tokens", data={
            "csrf": csrf, "action": "issue", "expires_days": bad})
        assert refused.status_code == 422
    assert len(demo.ledger.tokens.tokens_of("edu-wang")) == count  # nothing issued
