"""Shared fixtures: every storage test runs on SQLite and on a real PostgreSQL.

PostgreSQL is found at ``LEDGER_TEST_POSTGRES`` (default the machine's trust-auth server,
``postgresql://postgres@127.0.0.1:5432/test``). Each test gets its own schema, dropped after,
so tests can run in parallel. Without a server the PostgreSQL half is skipped with the
reason printed; under CI (``CI=true``) a skipped PostgreSQL test is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.app import Ledger
from ledger.measures.roles import Role
from ledger.settings import Settings
from ledgertest import PG_URL, require_postgres, upload_example_documents

__all__ = ["PG_URL", "require_postgres", "upload_example_documents"]

# The CLI's and servers' tests run in the `test` environment, where the development
# placeholder master key may seal any database (docs/keys.md); elsewhere only a demo's.
os.environ.setdefault("LEDGER_ENVIRONMENT", "test")


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A database URL pointing at a fresh, private PostgreSQL schema."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Test settings on the parametrised backend."""
    return Settings(database_url=database_url, environment="test")


@pytest.fixture
def make_ledger(settings: Settings) -> Iterator[Callable[..., Ledger]]:
    """Open (more) ledger application objects on the test database; closed after."""
    opened: list[Ledger] = []

    def make(**kwargs: object) -> Ledger:
        ledger = Ledger(settings, **kwargs)  # type: ignore[arg-type]
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger]) -> Ledger:
    """An initialised ledger with an office, a finance officer and two units' actors."""
    app = make_ledger()
    app.initialise()
    upload_example_documents(app)
    app.register_actor("office-li", Role.OFFICE, None, "综合管理办公室 李")
    app.register_actor("finance-zhao", Role.FINANCE, None, "财政管理部 赵")
    app.register_actor("edu-wang", Role.UNIT, "edu", "教育和体育部 王")
    app.register_actor("health-chen", Role.UNIT, "health", "卫生健康部 陈")
    return app


@pytest.fixture
def make_database(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Fresh, empty databases on the same backend as a given URL (for hypothesis examples)."""
    schemas: list[str] = []

    def make(like: str) -> str:
        if like.startswith("sqlite:///"):
            return f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
        schema = f"h_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        return f"{PG_URL}?schema={schema}"

    yield make
    if schemas:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
