"""Helpers shared by the test modules (importable as ``ledgertest``)."""

from __future__ import annotations

import os

import psycopg
import pytest

from ledger.app import Ledger
from ledger.measures.catalogue import example_documents

PG_URL = os.environ.get("LEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _pg_problem() -> str | None:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {exc}".strip()
    return None


_PG_PROBLEM = _pg_problem()


def require_postgres() -> None:
    """Skip (or, under CI, fail) when PostgreSQL is not there."""
    if _PG_PROBLEM is None:
        return
    if IN_CI:
        pytest.fail(f"CI requires PostgreSQL: {_PG_PROBLEM}")
    pytest.skip(_PG_PROBLEM)



def upload_example_documents(ledger: Ledger) -> None:
    """Upload the documents the catalogue's example payloads reference."""
    for content in example_documents().values():
        ledger.add_document(content, "text/plain")
