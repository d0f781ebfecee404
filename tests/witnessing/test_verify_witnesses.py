"""``ledger verify`` and ``ledger verify --witnesses``: entries after the newest signed checkpoint
(its row deleted) are reported; a real ``ledger witness serve`` process is asked over HTTP, and a
rollback of the database below what it cosigned exits 1 naming the witness and the sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pushtest import _cursor, roll_back
from witnesstest import ROOT, WITNESS_NAME, WitnessServer, run_ledger

from api.services import LedgerService
from ledger.app import Ledger
from ledger.evidence.verify import verify_ledger
from ledger.measures.roles import Role


def test_entries_after_the_newest_checkpoint_are_reported(ledger: Ledger,
                                                          database_url: str) -> None:
    size = ledger.log.tree_size()
    assert verify_ledger(ledger.log, ledger.identity, workers=1).ok
    postgres = database_url.startswith("postgresql")
    with _cursor(database_url) as curs:
        curs.execute(f"DELETE FROM log_checkpoints WHERE size = {'%s' if postgres else '?'}",
                     (size,))
    report = verify_ledger(ledger.log, ledger.identity, workers=1)
    assert not report.ok
    messages = [f.message for f in report.failures]
    assert any(f"the checkpoint of size {size} is missing" in m for m in messages), messages


@pytest.fixture
def witness_server(tmp_path: Path, ledger: Ledger) -> Iterator[tuple[WitnessServer, str]]:
    """``ledger witness init`` pinning the ledger's log key, then ``ledger witness serve``."""
    state = tmp_path / "witness.db"
    made = run_ledger("witness", "init", "--state", str(state), "--name", WITNESS_NAME,
                      "--log-vkey", ledger.identity.log_key.encode(), "--json")
    assert made.returncode == 0, made.stderr
    server = WitnessServer(state)
    yield server, json.loads(made.stdout)["vkey"]
    server.stop()


def _verify(database_url: str, witnesses: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_DATABASE_URL": database_url, "LEDGER_ENVIRONMENT": "test",
           "LEDGER_WITNESSES": witnesses}
    return subprocess.run([sys.executable, "-m", "api.cli", "verify", "--witnesses", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_verify_witnesses_over_http(ledger: Ledger, database_url: str,
                                    witness_server: tuple[WitnessServer, str]) -> None:
    server, vkey = witness_server
    config = f"audit-w1 http://127.0.0.1:{server.port} {vkey}"
    ok = _verify(database_url, config)
    assert ok.returncode == 0, ok.stderr
    assert "1 of 1 witness(es) cosigned" in " ".join(ok.stderr.split())
    keep = ledger.log.tree_size()
    ledger.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
    size_n = ledger.log.tree_size()
    assert _verify(database_url, config, "--json").returncode == 0
    roll_back(database_url, keep)
    failed = _verify(database_url, config, "--json")
    assert failed.returncode == 1, failed.stderr
    [answer] = json.loads(failed.stdout)["witnesses"]["witnesses"]
    assert answer["alarm"] == {"witness": f"audit-w1 (http://127.0.0.1:{server.port})",
                               "witness_size": size_n, "log_size": keep,
                               "last_consistent_checkpoint": keep, "cause": "rollback"}
    recorded = _verify(database_url, config, "--record")  # the scheduled verify
    assert recorded.returncode == 1
    last = LedgerService(ledger).last_verify()
    assert last is not None
    assert last["ok"] is False  # the entries verify; the witnesses saw a longer log
    assert str(last["first_failure"]).startswith("the witnesses: ")
    assert f"cosigned a tree of {size_n} leaves" in str(last["first_failure"])
    text = _verify(database_url, config)
    assert text.returncode == 1
    said = " ".join(text.stderr.split())  # the console wraps long lines
    assert f"has cosigned a tree of {size_n} leaves, but this log has {keep}" in said
    assert f"the last checkpoint it is known to have cosigned: size {keep}" in said


def test_verify_witnesses_quorum(ledger: Ledger, database_url: str,
                                 witness_server: tuple[WitnessServer, str]) -> None:
    """Two witnesses, one of them down: all are required by default, --quorum 1 passes; a
    witness that did not answer is named, and is no rollback."""
    server, vkey = witness_server
    config = (f"audit-w1 http://127.0.0.1:{server.port} {vkey};"
              f" audit-w2 http://127.0.0.1:1 {vkey}")
    # The second entry reuses the vkey: only its URL (nothing listens) matters here.
    default = _verify(database_url, config, "--json")
    assert default.returncode == 1, default.stderr
    answers = json.loads(default.stdout)["witnesses"]
    assert [a["agrees"] for a in answers["witnesses"]] == [True, False]
    assert answers["witnesses"][1]["alarm"] is None
    assert answers["witnesses"][1]["error"]
    assert _verify(database_url, config, "--quorum", "1").returncode == 0
    assert _verify(database_url, config, "--quorum", "2").returncode == 1
