"""docs/deploy.md's PostgreSQL set-up on the real server: roles.sql makes the database and its
roles, the owner runs ``ledger init`` and grants.sql, and then the server's role works — a real
``ledger serve`` files over HTTP, ``ledger verify`` and the read model run — while an UPDATE,
DELETE or TRUNCATE of the ledger's tables is refused; the reader role verifies and cannot
write."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from deploytest import DEPLOY, ROOT, Roles, fresh_database, ledger, ledger_env, psql, url

from ledger.measures.catalogue import EXAMPLES
from ledgertest import free_port, server_process

APPEND_ONLY = ("stored_events", "log_leaves", "log_nodes", "log_checkpoints", "head_nodes",
               "ledger_meta", "key_custody", "documents")


@pytest.fixture(scope="module")
def roles() -> Iterator[Roles]:
    with fresh_database() as made:
        init = ledger(url(made.owner, made.database), "init")
        assert init.returncode == 0, init.stderr
        granted = psql(made.owner, made.database, "-v", "schema=ledger", "-v", f"app={made.app}",
                       "-v", f"reader={made.reader}", "-f",
                       str(DEPLOY / "postgres" / "grants.sql"))
        assert granted.returncode == 0, granted.stderr
        yield made


def test_the_app_role_runs_the_server_and_files(roles: Roles) -> None:
    app_url = url(roles.app, roles.database)
    added = ledger(app_url, "actors", "add", "edu-wang", "--role", "unit", "--unit", "edu")
    assert added.returncode == 0, added.stderr  # an append to the registry, as the app role
    token = ledger(app_url, "actors", "token", "edu-wang")
    assert token.returncode == 0, token.stderr
    port = free_port()
    env = ledger_env(app_url, LEDGER_REQUIRE_DOCUMENTS="false")
    with server_process([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], port,
                        cwd=ROOT, env=env, ready="/readyz", within=90) as base:
        headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
        filed = httpx.post(f"{base}/api/v1/projects", headers=headers, timeout=30,
                           json={"payload": EXAMPLES["ApplicationFiled"]})
        assert filed.status_code == 201, filed.text
        listed = httpx.get(f"{base}/api/v1/projects", headers=headers, timeout=30)
        assert listed.status_code == 200
        assert len(listed.json()["items"]) == 1
        for n in range(2):  # its upload allowance, inserted and then updated by the app role
            uploaded = httpx.post(f"{base}/api/v1/documents", timeout=30,
                                  content=b"%PDF-1.4 role " + bytes([48 + n]),
                                  headers=headers | {"content-type": "application/pdf"})
            assert uploaded.status_code == 201, uploaded.text
    for command in (["verify"], ["projects", "--json"], ["obligations", "--json"]):
        done = ledger(app_url, *command)
        assert done.returncode == 0, (command, done.stderr)


@pytest.mark.parametrize("statement", [
    *(f"UPDATE ledger.{table} SET {column} = {column}" for table, column in (
        ("stored_events", "topic"), ("log_leaves", "recorded_at"), ("log_checkpoints", "note"),
        ("ledger_meta", "value"), ("key_custody", "sealed"))),
    *(f"DELETE FROM ledger.{table}" for table in APPEND_ONLY),
    "TRUNCATE ledger.stored_events",
    "LOCK TABLE ledger.stored_events IN EXCLUSIVE MODE",
    "ALTER FUNCTION ledger.ledger_write_if SECURITY INVOKER",
])
def test_the_app_role_may_not_rewrite_the_ledger(roles: Roles, statement: str) -> None:
    with psycopg.connect(url(roles.app, roles.database, schema=None)) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_reader_role_verifies_and_cannot_write(roles: Roles) -> None:
    reader_url = url(roles.reader, roles.database)
    done = ledger(reader_url, "verify", "--json")
    assert done.returncode == 0, done.stderr
    kept = ledger(reader_url, "verify", "--record", "--json")  # the reader may not keep it
    assert kept.returncode == 0, kept.stderr  # the checks passed: the exit code says so
    assert json.loads(kept.stdout)["recorded"] is False
    assert "the result was not recorded" in " ".join(kept.stderr.split())
    with psycopg.connect(url(roles.reader, roles.database, schema=None)) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("INSERT INTO ledger.ledger_meta VALUES ('x', 'y')")


def test_a_missing_grant_is_one_line_naming_the_guide(roles: Roles) -> None:
    # The reader may not append: its refusal is a line pointing at the roles, not a traceback.
    done = ledger(url(roles.reader, roles.database), "actors", "add", "x-y", "--role", "office")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "docs/deploy.md" in done.stderr


def test_serve_refuses_until_grants_follow_a_migration(roles: Roles) -> None:
    # `ledger init` (like `ledger migrate`) replaces the append's functions, which then run as
    # their caller again: the app role could no longer append, and `ledger serve` says so.
    assert ledger(url(roles.owner, roles.database), "init").returncode == 0
    refused = ledger(url(roles.app, roles.database), "serve", "--port", "1")
    assert refused.returncode == 2, refused.stderr
    assert "run deploy/postgres/grants.sql as the owner" in refused.stderr
    assert "Traceback" not in refused.stderr
    granted = psql(roles.owner, roles.database, "-v", f"app={roles.app}", "-v",
                   f"reader={roles.reader}", "-f", str(DEPLOY / "postgres" / "grants.sql"))
    assert granted.returncode == 0, granted.stderr
    added = ledger(url(roles.app, roles.database), "actors", "add", "office-zhou", "--role",
                   "office")
    assert added.returncode == 0, added.stderr
