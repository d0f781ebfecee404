"""docs/deploy.md's restore drill on the real PostgreSQL: pg_dump the ledger, pg_restore it into a
database of a new name, then ``ledger verify`` and ``ledger verify --witnesses`` (a real
``ledger witness serve`` that cosigned the live log) prove the restored ledger is the witnessed
one. A backup older than what the witness cosigned verifies on its own — and is caught as a
rollback by the witness."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from deploytest import (
    DEPLOY,
    ROOT,
    Roles,
    fresh_database,
    ledger,
    psql,
    require_tool,
    server_address,
    url,
)

from ledgertest import PG_URL

WITNESS = "audit.gaoxin.example/w1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def witness(tmp_path: Path) -> tuple[Path, int]:
    """The state file and port for a ``ledger witness serve`` process."""
    return tmp_path / "witness.db", _free_port()


def _start_witness(state: Path, port: int, log_vkey: str) -> tuple[subprocess.Popen[str], str]:
    made = subprocess.run([sys.executable, "-m", "api.cli", "witness", "init", "--state",
                           str(state), "--name", WITNESS, "--log-vkey", log_vkey, "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "witness", "serve", "--state",
                                str(state), "--host", "127.0.0.1", "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    return process, json.loads(made.stdout)["vkey"]


def _dump(roles: Roles, path: Path) -> None:
    host, port, _ = server_address()
    done = subprocess.run([require_tool("pg_dump"), "-h", host, "-p", str(port), "-U",
                           roles.owner, "-d", roles.database, "-Fc", "-f", str(path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr


def _restore(roles: Roles, path: Path, name: str) -> None:
    host, port, superuser = server_address()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{roles.owner}" TEMPLATE template0')
    done = subprocess.run([require_tool("pg_restore"), "-h", host, "-p", str(port), "-U",
                           superuser, "-d", name, "--exit-on-error", str(path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr


def _drill_env(host: str, port: int, superuser: str, roles: Roles, name: str,
               witnesses: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEDGER_")}
    return env | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                  "PGHOST": host, "PGPORT": str(port), "PGUSER": superuser,
                  "LEDGER_OWNER": roles.owner, "LEDGER_DRILL_USER": roles.app,
                  "DRILL_DATABASE": name, "LEDGER_ENVIRONMENT": "test", **witnesses}


def test_restore_drill(witness: tuple[Path, int], tmp_path: Path) -> None:
    restored: list[str] = []
    process = None
    with fresh_database() as roles:
        try:
            owner = url(roles.owner, roles.database)
            assert ledger(owner, "demo").returncode == 0
            made = ledger(owner, "init", "--json")  # records the schema version
            assert made.returncode == 0, made.stderr
            log_key = json.loads(made.stdout)["log_key"]
            granted = psql(roles.owner, roles.database, "-v", f"app={roles.app}", "-v",
                           f"reader={roles.reader}", "-f",
                           str(DEPLOY / "postgres" / "grants.sql"))
            assert granted.returncode == 0, granted.stderr
            process, vkey = _start_witness(*witness, log_key)
            witnesses = {"LEDGER_WITNESSES": f"audit-w1 http://127.0.0.1:{witness[1]} {vkey}"}
            app = url(roles.app, roles.database)
            assert ledger(app, "verify", "--witnesses", **witnesses).returncode == 0
            _dump(roles, tmp_path / "older.dump")  # a backup the log then grows past
            added = ledger(app, "actors", "add", "audit-drill", "--role", "audit")
            assert added.returncode == 0, added.stderr
            cosigned = ledger(app, "verify", "--witnesses", **witnesses)
            assert cosigned.returncode == 0, cosigned.stderr
            _dump(roles, tmp_path / "latest.dump")

            # The drill, as shipped: restore the latest backup under a new name, check its
            # schema, verify it, ask the witness.
            name = f"{roles.database}_restored_{uuid.uuid4().hex[:6]}"
            restored.append(name)
            host, port, superuser = server_address()
            drill = subprocess.run(
                [str(DEPLOY / "backup" / "restore-drill.sh"), str(tmp_path / "latest.dump")],
                env=_drill_env(host, port, superuser, roles, name, witnesses), cwd=tmp_path,
                capture_output=True, text=True, timeout=600, check=False)
            assert drill.returncode == 0, drill.stdout + drill.stderr
            assert f"5/5 passed: {name} is the witnessed ledger" in drill.stdout
            assert "1 of 1 witness(es) cosigned" in " ".join(drill.stderr.split())

            # A stale backup is whole and verifies — but it is not the witnessed ledger.
            stale = f"{roles.database}_stale_{uuid.uuid4().hex[:6]}"
            _restore(roles, tmp_path / "older.dump", stale)
            restored.append(stale)
            assert ledger(url(roles.app, stale), "verify").returncode == 0
            caught = ledger(url(roles.app, stale), "verify", "--witnesses", **witnesses)
            assert caught.returncode == 1, caught.stderr
            assert "has cosigned a tree of" in " ".join(caught.stderr.split())
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                for name in restored:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_backup_script_makes_a_readable_archive(tmp_path: Path) -> None:
    require_tool("pg_dump")
    with fresh_database() as roles:
        assert ledger(url(roles.owner, roles.database), "init").returncode == 0
        host, port, _ = server_address()
        env = {key: value for key, value in os.environ.items() if not key.startswith("LEDGER_")}
        env |= {"LEDGER_BACKUP_URL": f"postgresql://{roles.owner}@{host}:{port}/{roles.database}",
                "LEDGER_BACKUP_DIR": str(tmp_path / "backups")}
        done = subprocess.run([str(DEPLOY / "backup" / "backup.sh")], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        archive = Path(done.stdout.strip())
        assert archive.parent == tmp_path / "backups"
        assert archive.stat().st_size > 1000
        assert oct(archive.stat().st_mode & 0o777) == "0o600"
