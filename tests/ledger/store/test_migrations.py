"""Schema versions and numbered migrations (ledger.store.migrations) on SQLite and PostgreSQL:
``ledger init`` records this release's version, a database without one is refused by
``ledger serve`` until ``ledger migrate`` has run, and a newer database is never migrated."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import app
from ledger.app import Ledger
from ledger.settings import Settings
from ledger.store import migrations

ENV = {"LEDGER_ENVIRONMENT": "test"}


def _cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"LEDGER_DATABASE_URL": url, **ENV})
    return result.exit_code, result.stdout, result.stderr


def test_init_records_this_releases_version(database_url: str) -> None:
    code, _, err = _cli(database_url, "init")
    assert code == 0, err
    code, out, _ = _cli(database_url, "migrate", "--check", "--json")
    assert code == 0
    assert '"from": 1' in out.replace(str(migrations.SCHEMA_VERSION), "1")


def _forget_versions(database_url: str) -> None:
    """Make the database look as one made before schema versions were recorded."""
    statement = "DELETE FROM ledger_meta WHERE key LIKE 'schema_migration_%'"
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement)
        return
    base, _, query = database_url.partition("?")
    schema = parse_qs(query)["schema"][0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(statement)


def test_initialise_records_this_releases_version(ledger: Ledger) -> None:
    assert migrations.schema_version(ledger.log) == migrations.SCHEMA_VERSION
    migrations.require_current(ledger.log)


def test_an_unversioned_database_is_refused_until_migrated(ledger: Ledger,
                                                           database_url: str) -> None:
    _forget_versions(database_url)
    assert migrations.schema_version(ledger.log) == 0
    with pytest.raises(migrations.SchemaOutdatedError, match="run `ledger migrate`"):
        migrations.require_current(ledger.log)
    code, out, _ = _cli(database_url, "migrate", "--check")
    assert code == 1
    assert f"{migrations.SCHEMA_VERSION} migration(s) pending" in out  # every one of them
    served = subprocess.run(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", "1"],
        env={"LEDGER_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", **ENV},
        capture_output=True, text=True, timeout=120, check=False,
        cwd=Path(__file__).resolve().parents[3])
    assert served.returncode == 2, served.stderr
    assert served.stderr.strip().splitlines()[-1].startswith("error: the database's schema is at"
                                                             " no recorded version")
    assert "Traceback" not in served.stderr
    code, out, err = _cli(database_url, "migrate")
    assert code == 0, err
    assert f"schema version {migrations.SCHEMA_VERSION} (was 0)" in out
    migrations.require_current(ledger.log)
    assert migrations.migrate(ledger.log) == []  # nothing left: running it again is harmless
    code, _, _ = _cli(database_url, "verify")
    assert code == 0


def test_a_newer_database_is_not_migrated(ledger: Ledger) -> None:
    migrations.migrate(ledger.log)
    newer = migrations.SCHEMA_VERSION + 1
    ledger.log.put_meta(migrations.KEY.format(newer), "2099-01-01T00:00:00+00:00")
    assert migrations.schema_version(ledger.log) == newer
    with pytest.raises(migrations.SchemaOutdatedError, match="migrated by a newer release"):
        migrations.migrate(ledger.log)
    with pytest.raises(migrations.SchemaOutdatedError, match="newer release"):
        migrations.require_current(ledger.log)


def test_migrations_are_numbered_one_by_one() -> None:
    assert [step.number for step in migrations.MIGRATIONS] == list(
        range(1, len(migrations.MIGRATIONS) + 1))


def test_the_demo_is_at_this_releases_version(database_url: str) -> None:
    code, _, err = _cli(database_url, "demo")
    assert code == 0, err
    code, out, _ = _cli(database_url, "migrate", "--check")
    assert code == 0
    assert "0 migration(s) pending" in out


def test_the_app_refuses_an_unmigrated_database(ledger: Ledger, database_url: str,
                                               settings: Settings) -> None:
    # The uvicorn factory (api.app:create_app) checks too, not only `ledger serve`.
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415

    _forget_versions(database_url)
    with pytest.raises(migrations.SchemaOutdatedError), TestClient(create_app(settings)):
        pass
    migrations.migrate(ledger.log)
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
