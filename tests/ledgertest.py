"""Helpers shared by the test modules (importable as ``ledgertest``)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
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


def require(problem: str | None, what: str) -> None:
    """Skip with ``problem`` as the reason (under CI, fail: CI has every part) unless it is None.

    ``what`` names what the tests need, for CI's message ("CI requires {what}: {problem}").
    """
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI requires {what}: {problem}")
    pytest.skip(problem)


def require_postgres() -> None:
    """Skip (or, under CI, fail) when PostgreSQL is not there."""
    require(_PG_PROBLEM, "PostgreSQL")


def free_port() -> int:
    """A TCP port free on loopback just now (for a server the test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server_process(command: list[str], port: int, *, env: dict[str, str], cwd: Path | None = None,
                   ready: str = "/healthz", within: float = 60,
                   log: Path | None = None) -> Iterator[str]:
    """A server started as a process (``ledger serve --port {port}`` …), its base URL once
    ``ready`` answers 200; terminated afterwards. Fails with its stderr (or its ``log`` file,
    where its output goes if given) if it exits first."""
    output = log.open("wb") if log is not None else None
    process = subprocess.Popen(command, cwd=cwd, env=env,
                               stdout=output or subprocess.DEVNULL,
                               stderr=subprocess.STDOUT if output else subprocess.PIPE, text=True)

    def said() -> str:
        if log is not None:
            return log.read_text(encoding="utf-8", errors="replace")
        return process.stderr.read() if process.stderr else ""

    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + within
        while True:
            assert process.poll() is None, said()
            try:
                if httpx.get(base + ready, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the server did not start within {within} s"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        if output is not None:
            output.close()



def upload_example_documents(ledger: Ledger) -> None:
    """Upload the documents the catalogue's example payloads reference."""
    for content in example_documents().values():
        ledger.add_document(content, "text/plain")


def run_sql(database_url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement on a test ledger's database beneath the ledger (SQLite file, or a
    PostgreSQL schema), its tables written ``{table}``; the rows it returns, if any."""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return conn.execute(statement.format_map(_TableNames(""))).fetchall()
    base, _, schema = database_url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        cursor = conn.execute(statement.format_map(_TableNames(f'"{schema}".')).encode())
        return cursor.fetchall() if cursor.description else []


class _TableNames(dict[str, str]):
    """``{table}`` as a statement writes it: with its schema's prefix."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def __missing__(self, key: str) -> str:
        return f"{self.prefix}{key}"

