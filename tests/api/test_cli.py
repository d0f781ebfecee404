"""The ``ledger`` command line end to end on both backends."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app


def _run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"LEDGER_DATABASE_URL": url})
    return result.exit_code, result.stdout


def test_demo_init_projects_verify(database_url: str) -> None:
    code, out = _run(database_url, "demo", "--json")
    assert code == 0, out
    demo = json.loads(out)
    assert len(demo["projects"]) >= 12
    assert _run(database_url, "demo")[0] == 2  # the demo needs an empty database
    code, out = _run(database_url, "init", "--json")
    assert code == 0, out
    identity = json.loads(out)
    assert identity["profile"] == "intl"
    assert identity["log_key"].startswith(identity["origin"] + "+")
    assert _run(database_url, "init", "--json")[1] == out  # idempotent
    code, out = _run(database_url, "projects", "--json")
    stages = {row["stage"] for row in json.loads(out)["projects"]}
    assert {"in_construction", "rejected", "filed", "terminated"} <= stages
    code, out = _run(database_url, "verify", "--json")
    assert code == 0, out
    assert json.loads(out)["ok"] is True


def test_actor_key_and_token_admin(database_url: str) -> None:
    _run(database_url, "init")
    code, out = _run(database_url, "actors", "add", "town-zhang", "--role", "unit",
                     "--unit", "town", "--name", "某镇 张", "--json")
    assert code == 0, out
    first_key = json.loads(out)["key_id"]
    code, out = _run(database_url, "keys", "rotate", "town-zhang", "--json")
    second_key = json.loads(out)["key_id"]
    assert second_key != first_key
    code, out = _run(database_url, "keys", "revoke", first_key, "--json")
    assert json.loads(out)["revoked_from"] is not None
    code, out = _run(database_url, "keys", "list", "--json")
    keys = {row["key_id"]: row for row in json.loads(out)}
    assert keys[first_key]["revoked_from"]
    assert not keys[second_key]["revoked_from"]
    code, token = _run(database_url, "actors", "token", "town-zhang")
    assert code == 0
    assert len(token.strip()) > 30
    code, out = _run(database_url, "actors", "add", "town-zhang", "--role", "unit")
    assert code == 2  # already registered: a clear error, not a traceback
    assert _run(database_url, "verify")[0] == 0


def test_uninitialised_database_is_a_clear_error(database_url: str) -> None:
    result = CliRunner().invoke(app, ["projects"], env={"LEDGER_DATABASE_URL": database_url})
    assert result.exit_code == 2
    assert "ledger init" in result.stderr
