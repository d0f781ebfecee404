"""Helpers of the deployment tests: fresh PostgreSQL databases and roles made with the SQL files
shipped in deploy/, and the ``ledger`` command run as a separate process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from ledgertest import PG_URL, require_postgres

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def server_address() -> tuple[str, int, str]:
    """Host, port and superuser of the test PostgreSQL server."""
    parts = urlsplit(PG_URL)
    return parts.hostname or "127.0.0.1", parts.port or 5432, parts.username or "postgres"


def url(user: str, database: str, schema: str | None = "ledger") -> str:
    """A ledger URL on the test server for ``user`` and ``database``."""
    host, port, _ = server_address()
    query = f"?schema={schema}" if schema else ""
    return f"postgresql://{user}@{host}:{port}/{database}{query}"


def require_tool(name: str) -> str:
    """The path of a PostgreSQL client program, or skip saying it is missing."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def psql(user: str, database: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run psql against the test server as ``user``."""
    host, port, _ = server_address()
    return subprocess.run([require_tool("psql"), "-X", "-q", "-h", host, "-p", str(port), "-U",
                           user, "-d", database, *args], capture_output=True, text=True,
                          timeout=120, check=False)


def ledger_env(database_url: str, **env: str) -> dict[str, str]:
    """This process's environment without its LEDGER_ settings, on ``database_url``."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("LEDGER_")}
    return environment | {"LEDGER_DATABASE_URL": database_url, "LEDGER_ENVIRONMENT": "test",
                          **env}


def ledger(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``ledger …`` as a process, on ``database_url``."""
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT,
                          env=ledger_env(database_url, **env), capture_output=True, text=True,
                          timeout=300, check=False)


@dataclass(frozen=True)
class Roles:
    """A database made by deploy/postgres/roles.sql with its three roles."""

    database: str
    owner: str
    app: str
    reader: str


@contextmanager
def fresh_database() -> Iterator[Roles]:
    """A new database and roles (unique names) from roles.sql; dropped afterwards."""
    require_postgres()
    tag = uuid.uuid4().hex[:8]
    roles = Roles(f"ledger_t{tag}", f"lo_{tag}", f"la_{tag}", f"lr_{tag}")
    _, _, superuser = server_address()
    made = psql(superuser, "postgres", "-v", f"db={roles.database}", "-v",
                f"owner={roles.owner}", "-v", f"app={roles.app}", "-v", f"reader={roles.reader}",
                "-f", str(DEPLOY / "postgres" / "roles.sql"))
    try:
        assert made.returncode == 0, made.stderr
        yield roles
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{roles.database}" WITH (FORCE)')
            for role in (roles.owner, roles.app, roles.reader):
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')
