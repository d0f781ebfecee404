"""tiles-check (tools/tiles-check): golang.org/x/mod's sumdb/tlog and sumdb/note, unmodified, read
the ledger's tlog-tiles API from the real server (uvicorn on loopback) and verify the root,
inclusion proofs and consistency; a tampered stored node is caught by x/mod's tile
authentication.

Built once per session with ``tools/tiles-check/build.sh`` (Debian's ``golang-go`` and
``golang-golang-x-mod-dev``, offline); without them these tests skip, and under CI
(``CI=true``) they fail.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings
from ledgertest import free_port, server_process, upload_example_documents

ROOT = Path(__file__).resolve().parents[2]
LEAVES = 600  # two full level-0 tiles, a partial one of 88, a level-1 tile of width 2


@dataclass(frozen=True)
class Served:
    """A ledger served by uvicorn: its URL, log key, a token, the database file."""

    url: str
    log_key: str
    token: str
    database: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A SQLite ledger of :data:`LEAVES` leaves behind a real server process."""
    database = tmp_path_factory.mktemp("tiles") / "ledger.db"
    url = f"sqlite:///{database}"
    ledger = Ledger(Settings(database_url=url, environment="test"))
    ledger.initialise()
    upload_example_documents(ledger)
    ledger.register_actor("edu-wang", Role.UNIT, "edu", "edu")
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    while (size := ledger.log.tree_size()) < LEAVES:
        filings = [ledger.prepare("edu-wang", "MaterialsSupplemented",
                                  EXAMPLES["MaterialsSupplemented"], stream=stream)
                   for _ in range(min(97, LEAVES - size))]
        for outcome in ledger.submit_many(filings):
            assert not isinstance(outcome, Exception), outcome
    token = ledger.tokens.issue("edu-wang")
    log_key = ledger.identity.log_key.encode()
    ledger.close()
    port = free_port()
    env = dict(os.environ, LEDGER_DATABASE_URL=url, LEDGER_ENVIRONMENT="test")
    with server_process([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                        port, cwd=ROOT, env=env, ready="/readyz") as base:
        yield Served(base, log_key, token, database)


def _run(binary: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run([str(binary), *args], capture_output=True, text=True, check=False,
                            timeout=120)
    return result.returncode, json.loads(result.stdout)


def test_x_mod_reads_and_verifies_the_tiles(tiles_check: Path, served: Served) -> None:
    code, out = _run(tiles_check, "-url", served.url, "-log-key", served.log_key,
                     "-index", "0", "-index", "255", "-index", "256", "-index", "599",
                     "-old", "1", "-old", "256", "-old", "300", "-old", "600")
    assert code == 0, out
    assert out["ok"] is True
    assert out["size"] == LEAVES
    assert out["inclusions_verified"] == [0, 255, 256, 599]
    assert out["consistent_with"] == [1, 256, 300, 600]


def test_leaves_from_entry_bundles(tiles_check: Path, served: Served) -> None:
    code, out = _run(tiles_check, "-url", served.url, "-log-key", served.log_key,
                     "-token", served.token, "-index", "3", "-index", "511", "-index", "599")
    assert code == 0, out
    assert out["leaves_from_entry_bundles"] is True
    bad, refused = _run(tiles_check, "-url", served.url, "-log-key", served.log_key,
                        "-token", "not-a-token")
    assert bad == 1
    assert "HTTP 401" in refused["error"]


def test_another_log_key_is_refused(tiles_check: Path, served: Served) -> None:
    from ledger.crypto.suites import INTL  # noqa: PLC0415
    from ledger.log.checkpoint import VerifierKey  # noqa: PLC0415

    origin = served.log_key.split("+", 1)[0]
    other = VerifierKey.for_signer(origin, INTL.signature.generate()).encode()
    code, out = _run(tiles_check, "-url", served.url, "-log-key", other)
    assert code == 1
    assert "checkpoint signature" in out["error"]


def test_a_tampered_node_is_caught_by_tile_authentication(tiles_check: Path,
                                                          served: Served) -> None:
    # Rewrite one stored leaf hash of the first full tile behind the server's back.
    with sqlite3.connect(served.database) as db:
        (old,) = db.execute("SELECT hash FROM log_nodes WHERE level = 0 AND idx = 17").fetchone()
        db.execute("UPDATE log_nodes SET hash = ? WHERE level = 0 AND idx = 17", (b"\0" * 32,))
    try:
        code, out = _run(tiles_check, "-url", served.url, "-log-key", served.log_key,
                         "-index", "17")
        assert code == 1, out
        assert "inconsistent tile" in out["error"] or "not in the tree" in out["error"]
    finally:
        with sqlite3.connect(served.database) as db:
            db.execute("UPDATE log_nodes SET hash = ? WHERE level = 0 AND idx = 17", (old,))
