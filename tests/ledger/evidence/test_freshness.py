"""``ledger verify-bundle --online`` (docs/evidence-format.md, Online freshness): the live log's
checkpoint under the pinned key, a consistency proof from the bundle's checkpoint, the project's
and the registry's current heads with their proofs, and what was recorded since. A fork or a
rollback of the log, and a bundle rolled back to an older checkpoint, are errors (exit 1).

Through the FastAPI app (a test client in place of the HTTP connection) and, for the command
itself, a real server (uvicorn on loopback), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from test_bundle import ON, History
from test_completeness import _repack, rolled_back
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli_app
from api.cli_evidence import LiveLogClient
from ledger.app import Ledger
from ledger.crypto.suites import INTL
from ledger.evidence.bundle import FORMAT_V1, BundleReport, verify_bundle
from ledger.evidence.freshness import FreshnessReport, LiveLog, LiveLogError, check_freshness
from ledger.log.checkpoint import SignedNote, sign_checkpoint
from ledger.log.entries import b64encode
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledgertest import free_port, server_process
from projections.evidence import export_bundle

ROOT = Path(__file__).resolve().parents[3]


def _report(ledger: Ledger, data: bytes) -> BundleReport:
    return verify_bundle(data, log_key=ledger.identity.log_key.encode(),
                         root_key=b64encode(ledger.identity.root_public_key))


@pytest.fixture
def live(ledger: Ledger, history: History) -> Iterator[LiveLogClient]:
    """The ledger's HTTP API through a test client, with an auditor's token."""
    del history  # registers audit-sun
    client = TestClient(create_app(ledger=ledger, group_commit=False))
    with LiveLogClient("http://testserver", ledger.tokens.issue("audit-sun"),
                       client=client) as log:
        yield log


def _fresh(ledger: Ledger, data: bytes, log: LiveLog) -> FreshnessReport:
    return check_freshness(_report(ledger, data), log, ledger.identity.log_key, "test")


def _supplement(ledger: Ledger, stream: UUID, actor: str = "edu-wang") -> str:
    return ledger.file(actor, "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                       stream=stream).recorded_at


@dataclass
class Rigged:
    """A live log that lies in one answer (a fork, a rollback, a bad proof)."""

    real: LiveLog
    checkpoint_text: str | None = None
    consistency_flip: bool = False
    head_seq_shift: int = 0
    head_unavailable: bool = False

    def checkpoint(self) -> str:
        return self.checkpoint_text or self.real.checkpoint()

    def consistency(self, first: int, second: int) -> list[bytes]:
        proof = self.real.consistency(first, second)
        if self.consistency_flip:
            proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
        return proof

    def head(self, stream: UUID, tree_size: int) -> Mapping[str, Any]:
        if self.head_unavailable:
            raise LiveLogError("GET /log/proof/head: HTTP 503: busy")
        answer = dict(self.real.head(stream, tree_size))
        if self.head_seq_shift and answer["head"] is not None:
            answer["head"] = dict(answer["head"], seq=answer["head"]["seq"]
                                  + self.head_seq_shift)
        return answer

    def entry(self, stream: UUID, seq: int, tree_size: int) -> Mapping[str, Any]:
        return self.real.entry(stream, seq, tree_size)


# --- what the live log says -------------------------------------------------------------------


def test_a_current_bundle_is_current(ledger: Ledger, bundle: bytes,
                                     live: LiveLogClient) -> None:
    fresh = _fresh(ledger, bundle, live)
    assert fresh.ok, fresh.errors
    assert fresh.current_size == fresh.bundle_size
    project, registry = fresh.streams
    assert (project.name, project.recorded_since, project.current_seq) == ("project", 0, 6)
    assert registry.recorded_since == 0
    assert "no entry recorded on the project since the export (head seq 6)" in fresh.summary()
    assert fresh.to_json()["ok"] is True


def test_entries_recorded_since_the_export(ledger: Ledger, history: History, bundle: bytes,
                                           live: LiveLogClient) -> None:
    first = _supplement(ledger, history.stream)
    _supplement(ledger, history.other, "health-chen")
    newest = _supplement(ledger, history.stream)
    ledger.register_actor("cdr-qian", Role.CDR, None, "首席数据代表 钱")
    fresh = _fresh(ledger, bundle, live)
    assert fresh.ok, fresh.errors
    assert fresh.current_size is not None
    assert fresh.bundle_size is not None
    assert fresh.current_size > fresh.bundle_size
    project, registry = fresh.streams
    assert (project.recorded_since, project.current_seq) == (2, 8)
    assert (project.newest_recorded_at, project.first_new_recorded_at) == (newest, first)
    assert project.describe() == ("2 entries recorded on the project since the export, newest"
                                  f" seq 8 at {newest}")
    assert registry.recorded_since == 2
    assert "in the key registry since the export" in registry.describe()


def test_a_bundle_rolled_back_to_an_older_checkpoint_fails_online(
        ledger: Ledger, history: History, bundle: bytes, live: LiveLogClient) -> None:
    rolled = rolled_back(ledger, history, bundle)
    assert _report(ledger, rolled).complete  # offline, a complete bundle of checkpoint M
    fresh = _fresh(ledger, rolled, live)
    assert not fresh.ok
    (error,) = fresh.errors
    assert error.startswith(f"project: not current when exported: seq 4 was recorded at"
                            f" {history.times[3]}, before the bundle's exported_at")
    assert "rolled back to an older checkpoint" in error
    # The same bundle, honestly dated as known at its checkpoint, is only old, not wrong.
    honest = export_bundle(ledger, history.stream, as_known_at=history.times[2], on=ON)
    fresh = _fresh(ledger, honest, live)
    assert fresh.ok, fresh.errors
    assert fresh.streams[0].recorded_since == 3


def test_a_fork_or_a_rollback_of_the_log(ledger: Ledger, history: History, bundle: bytes,
                                         live: LiveLogClient) -> None:
    _supplement(ledger, history.stream)
    fresh = _fresh(ledger, bundle, Rigged(live, consistency_flip=True))
    assert fresh.errors[0].startswith("fork: the live checkpoint")
    assert "is not an extension of the bundle's checkpoint" in fresh.errors[0]
    size = _report(ledger, bundle).checkpoint_size
    assert size is not None
    older = ledger.log.checkpoint_at_most(size - 1)
    assert older is not None
    fresh = _fresh(ledger, bundle, Rigged(live, checkpoint_text=older.note))
    assert fresh.errors == [f"rollback: the live log's checkpoint has {older.size} leaves,"
                            f" fewer than the bundle's checkpoint {size} (the log was rolled"
                            " back, or this is not the log that signed the bundle)"]
    # The same size with another root is a fork too.
    same = SignedNote.parse(live.checkpoint()).checkpoint
    forged = sign_checkpoint(type(same)(same.origin, size, bytes(32), same.extensions),
                             same.origin, ledger.custody.signer("log")).text()
    assert _fresh(ledger, bundle, Rigged(live, checkpoint_text=forged)).errors[0].startswith(
        f"fork: the live checkpoint {size} is not an extension")


def test_answers_that_do_not_verify(ledger: Ledger, history: History, bundle: bytes,
                                    live: LiveLogClient) -> None:
    impostor = sign_checkpoint(SignedNote.parse(live.checkpoint()).checkpoint,
                               ledger.identity.origin, INTL.signature.generate()).text()
    fresh = _fresh(ledger, bundle, Rigged(live, checkpoint_text=impostor))
    assert fresh.errors[0].startswith("the live log's checkpoint is not validly signed by the"
                                      " pinned log key")
    _supplement(ledger, history.stream)
    fresh = _fresh(ledger, bundle, Rigged(live, head_seq_shift=1))
    assert len(fresh.errors) == 2
    assert fresh.errors[0].startswith("project: the live log's head proof does not verify")
    # A log that cannot answer is no finding about the bundle: the error goes through.
    with pytest.raises(LiveLogError, match="HTTP 503"):
        _fresh(ledger, bundle, Rigged(live, head_unavailable=True))


def test_a_format_1_bundle_short_of_its_checkpoint_is_caught_online(
        ledger: Ledger, bundle: bytes, live: LiveLogClient) -> None:
    def downgrade_and_drop(b: dict[str, Any]) -> None:
        b["format"] = FORMAT_V1
        del b["heads"]
        del b["entries"][-2:]

    short = _repack(bundle, downgrade_and_drop)
    report = _report(ledger, short)
    assert not report.complete  # offline: only a warning
    fresh = _fresh(ledger, short, live)
    (error,) = fresh.errors
    assert error.startswith("project: incomplete: seq 5 is leaf")
    assert error.endswith("but the bundle ends at seq 4: entries 5–6 are missing from it")


# --- the command, against a real server ---------------------------------------------------------


@pytest.fixture
def server(ledger: Ledger, database_url: str) -> Iterator[str]:
    """``ledger``'s database served by uvicorn on loopback; its base URL."""
    del ledger  # initialised
    port = free_port()
    env = dict(os.environ, LEDGER_DATABASE_URL=database_url, LEDGER_ENVIRONMENT="test",
               LEDGER_POOL_SIZE="4", LEDGER_WRITER="thread")
    with server_process(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(port), "--log-level", "warning"], port, env=env,
            cwd=ROOT, ready="/readyz", within=30) as url:
        yield url


def test_verify_bundle_online_against_a_real_server(
        ledger: Ledger, history: History, bundle: bytes, server: str, tmp_path: Path) -> None:
    runner = CliRunner()
    key = ledger.identity.log_key.encode()
    token = ledger.tokens.issue("audit-sun")
    good, rolled = tmp_path / "good.zip", tmp_path / "rolled.zip"
    good.write_bytes(bundle)
    rolled.write_bytes(rolled_back(ledger, history, bundle))
    result = runner.invoke(cli_app, ["verify-bundle", str(good), "--log-key", key,
                                     "--online", server, "--token", token])
    assert result.exit_code == 0, result.output
    assert f"online ({server}): the live checkpoint" in result.stdout
    assert "no entry recorded on the project since the export" in result.stdout
    newest = _supplement(ledger, history.stream)
    result = runner.invoke(cli_app, ["verify-bundle", str(good), "--log-key", key,
                                     "--online", server, "--json"],
                           env={"LEDGER_TOKEN": token})
    assert result.exit_code == 0, result.output
    online = json.loads(result.stdout)["online"]
    assert online["ok"] is True
    assert online["streams"]["project"] == {
        "stream": str(history.stream), "bundle_seq": 6, "current_seq": 7,
        "recorded_since": 1, "newest_recorded_at": newest, "first_new_recorded_at": newest}
    # Rolled back: verifies offline, fails online (exit 1), with --json too.
    result = runner.invoke(cli_app, ["verify-bundle", str(rolled), "--log-key", key])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli_app, ["verify-bundle", str(rolled), "--log-key", key,
                                     "--online", server, "--token", token])
    assert result.exit_code == 1
    assert "ONLINE CHECK FAILED" in result.stderr
    assert "project: not current when exported: seq 4" in result.stderr
    result = runner.invoke(cli_app, ["verify-bundle", str(rolled), "--log-key", key,
                                     "--online", server, "--token", token, "--json"])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["ok"] is False
    assert body["error"].startswith("online: project: not current when exported")
    # No token, a bad token, no server: exit 2, one JSON object each.
    for args, env, fragment in (
            ([], {"LEDGER_TOKEN": ""}, "--online needs a bearer token"),
            (["--token", "wrong"], {}, "HTTP 401"),
            (["--token", token, "--online", "http://127.0.0.1:9"], {}, "cannot ask")):
        result = runner.invoke(cli_app, ["verify-bundle", str(good), "--log-key", key,
                                         "--online", server, "--json", *args], env=env)
        assert result.exit_code == 2, result.output
        assert fragment in json.loads(result.stdout)["error"]
        assert "Traceback" not in result.output
