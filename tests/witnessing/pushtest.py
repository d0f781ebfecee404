"""Helpers of the push and rollback tests: a real witness (``witness.service.Witness`` behind its
ASGI app) pinned to a ledger's log key, the ledger's server pushing to it in-process, and an
attacker who deletes the newest part of the log straight in the database."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

from api.app import create_app
from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES
from ledger.settings import Settings
from witness.app import create_app as witness_app
from witness.keys import generate_cosigner_key
from witness.service import Witness
from witness.store import WitnessStore

WITNESS_URL = "http://witness.test"


@dataclass
class RunningWitness:
    """A C2SP witness with its own SQLite state, reachable through an in-process transport."""

    witness: Witness
    name: str

    @property
    def transport(self) -> httpx.ASGITransport:
        """An HTTP transport to its ASGI app."""
        return httpx.ASGITransport(app=witness_app(self.witness))

    @property
    def config(self) -> str:
        """Its ``LEDGER_WITNESSES`` entry."""
        return f"{self.name} {WITNESS_URL} {self.witness.vkey}"

    def size(self, origin: str) -> int | None:
        """The size it cosigned last for ``origin``."""
        latest = self.witness.store.latest(origin)
        return None if latest is None else latest.size


def make_witness(tmp_path: Path, ledger: Ledger, name: str = "audit-w1") -> RunningWitness:
    """A new witness pinning ``ledger``'s log key."""
    key = generate_cosigner_key(f"audit.gaoxin.example/{name}")
    state = tmp_path / f"{name}.db"
    store = WitnessStore.create(state, key.name, key.verifier_key.encode())
    store.add_log_key(ledger.identity.log_key)
    return RunningWitness(Witness(store, key), name)


def witnessed_settings(settings: Settings, witness: RunningWitness,
                       interval: float = 0.05) -> Settings:
    """``settings`` with ``witness`` configured."""
    return settings.model_copy(update={"witnesses": witness.config,
                                       "witness_interval": interval})


@contextmanager
def serving(ledger: Ledger, witness: RunningWitness) -> Iterator[TestClient]:
    """The ledger's app (lifespan running, so pushing) with the witness in-process."""
    app = create_app(ledger=ledger)
    app.state.witness_transport = witness.transport
    with TestClient(app) as client:
        yield client


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {check}")


def open_project(client: TestClient, headers: dict[str, str]) -> httpx.Response:
    """``POST /api/v1/projects`` with the example application."""
    return client.post("/api/v1/projects", json={"payload": EXAMPLES["ApplicationFiled"]},
                       headers=headers)


@contextmanager
def _cursor(database_url: str) -> Iterator[Any]:
    if database_url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(database_url)
        schema = parse_qs(parts.query)["schema"][0]
        with psycopg.connect(parts._replace(query="").geturl()) as conn, conn.cursor() as curs:
            curs.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            yield curs
        return
    lite = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30)
    try:
        with lite:
            yield lite.cursor()
    finally:
        lite.close()


def roll_back(database_url: str, keep: int) -> None:
    """Delete every entry, leaf, node, checkpoint, cosignature and heads map version beyond the
    first ``keep`` leaves, as a database administrator could (``keep`` is a checkpoint size)."""
    postgres = database_url.startswith(("postgresql://", "postgres://"))
    p = "%s" if postgres else "?"
    with _cursor(database_url) as curs:
        curs.execute("DELETE FROM stored_events WHERE EXISTS (SELECT 1 FROM log_leaves l WHERE"
                     f" l.leaf_index >= {p} AND l.originator_id = stored_events.originator_id"
                     " AND l.originator_version = stored_events.originator_version)", (keep,))
        curs.execute(f"DELETE FROM log_leaves WHERE leaf_index >= {p}", (keep,))
        curs.execute(f"DELETE FROM log_nodes WHERE ((idx + 1) << level) > {p}", (keep,))
        curs.execute(f"DELETE FROM log_checkpoints WHERE size > {p}", (keep,))
        curs.execute(f"DELETE FROM log_cosignatures WHERE size > {p}", (keep,))
        curs.execute(f"DELETE FROM head_nodes WHERE version > {p}", (keep,))
