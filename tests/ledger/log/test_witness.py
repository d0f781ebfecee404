"""The witness: consistent growth is cosigned; a rewound, forked or tampered log is refused with a
clear message, nothing is signed, the state is unchanged, and the CLI exits non-zero."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from tampering import Tamperer
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli_app
from ledger.app import Ledger
from ledger.crypto.suites import INTL
from ledger.errors import LedgerError
from ledger.log import merkle
from ledger.log.checkpoint import SignedNote, verify_note
from ledger.log.witness import (
    WitnessKey,
    WitnessRefusedError,
    WitnessState,
    WitnessStateError,
    generate_witness_key,
    witness_once,
)
from ledger.measures.catalogue import EXAMPLES, example_documents
from ledger.measures.roles import Role
from ledger.settings import Settings
from projections.evidence import export_bundle


class ClientLog:
    """The witness's :class:`~ledger.log.witness.LogClient` over a FastAPI test client."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.cosigned: list[str] = []

    def checkpoint(self) -> str:
        response = self.client.get("/log/checkpoint", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.text

    def consistency(self, first: int, second: int) -> list[bytes]:
        response = self.client.get("/log/proof/consistency", headers=self.headers,
                                   params={"first": first, "second": second})
        assert response.status_code == 200, response.text
        return [bytes.fromhex(node) for node in response.json()["consistency_proof"]]

    def cosign(self, note: str) -> str:
        self.cosigned.append(note)
        response = self.client.post("/log/checkpoint/cosign", content=note.encode(),
                                    headers=self.headers | {"Content-Type": "text/plain"})
        assert response.status_code == 200, response.text
        return response.text


def _audit_with_witness_key(ledger: Ledger, key: WitnessKey) -> str:
    """Register the witness (admin path) and return its bearer token."""
    if "audit-sun" not in ledger.registry().actors:
        ledger.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
    ledger.register_public_key("audit-sun", key.signer.public_key)
    return ledger.tokens.issue("audit-sun")


@contextmanager
def _log(ledger: Ledger, token: str) -> Iterator[ClientLog]:
    with TestClient(create_app(ledger=ledger)) as client:
        yield ClientLog(client, token)


def _file(ledger: Ledger, count: int) -> None:
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    for _ in range(count - 1):
        ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                    stream=stream)


@pytest.fixture
def key() -> WitnessKey:
    return generate_witness_key("audit.gaoxin.example/witness")


@pytest.fixture
def rewritten(ledger: Ledger, make_database: Callable[[str], str],
              database_url: str) -> Iterator[Ledger]:
    """A second ledger with the same origin and log key (a stolen key) but its own history."""
    other = Ledger(Settings(database_url=make_database(database_url), environment="test"))
    other.log.create_table()
    for name in ("profile", "log_key", "root_key_id", "root_public_key"):
        other.log.put_meta(name, str(ledger.log.get_meta(name)))
    for key_id in ("log", ledger.identity.root_key_id):
        record = ledger.log.get_custody(key_id)
        assert record is not None
        other.log.put_custody(record)
    other.log.put_meta("origin", ledger.identity.origin)
    other.initialise()
    for content in example_documents().values():
        other.add_document(content, "text/plain")
    other.register_actor("edu-wang", Role.UNIT, "edu", "教育和体育部 王")
    assert other.identity.log_key == ledger.identity.log_key
    yield other
    other.close()


# --- consistent growth ---------------------------------------------------------------------


def test_first_run_then_consistent_growth_is_cosigned(ledger: Ledger, key: WitnessKey,
                                                       tmp_path: Path) -> None:
    token = _audit_with_witness_key(ledger, key)
    log_key = ledger.identity.log_key.encode()
    with _log(ledger, token) as log:
        first = witness_once(log, key, None, log_key=log_key)
        assert first.previous_size is None
        assert "trusted on first use" in first.describe()
        served = SignedNote.parse(log.checkpoint())
        verify_note(served, [ledger.identity.log_key])
        verify_note(served, [key.verifier_key])
        path = tmp_path / "state.json"
        first.state.save(path)
        assert WitnessState.load(path) == first.state

        _file(ledger, 5)
        second = witness_once(log, key, WitnessState.load(path))
        assert (second.previous_size, second.size) == (first.size, first.size + 5)
        assert "consistent with size" in second.describe()
        assert SignedNote.parse(second.note).checkpoint.size == second.size

        # Nothing new: the same checkpoint is cosigned again (idempotent).
        third = witness_once(log, key, second.state)
        assert third.size == second.size
        assert third.note == second.note

    # An evidence bundle exported now carries the witness's cosignature.
    stream = ledger.log.stream_ids()[-1]
    from ledger.evidence.bundle import verify_bundle  # noqa: PLC0415

    report = verify_bundle(export_bundle(ledger, stream), log_key=log_key,
                           witness_keys=[key.verifier_key.encode()])
    witness = key.verifier_key
    assert report.witnesses_verified == [f"{witness.name}+{witness.key_id.hex()}"]


def test_key_file_round_trip_and_state_errors(key: WitnessKey, tmp_path: Path) -> None:
    parsed = WitnessKey.parse(key.encode())
    assert parsed.verifier_key == key.verifier_key
    assert key.encode().startswith("PRIVATE+KEY+audit.gaoxin.example/witness+")
    with pytest.raises(WitnessStateError):
        WitnessKey.parse("PRIVATE+KEY+name+00000000+AQ==")
    assert WitnessState.load(tmp_path / "absent.json") is None
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(WitnessStateError):
        WitnessState.load(tmp_path / "bad.json")


# --- rewritten history ----------------------------------------------------------------------


def test_rewritten_history_is_refused(ledger: Ledger, rewritten: Ledger,
                                      key: WitnessKey) -> None:
    token = _audit_with_witness_key(ledger, key)
    _file(ledger, 4)
    with _log(ledger, token) as log:
        state = witness_once(log, key, None, log_key=ledger.identity.log_key.encode()).state

    other_token = _audit_with_witness_key(rewritten, key)
    with _log(rewritten, other_token) as forked:
        # Fewer leaves than the witness already cosigned: a rewind.
        assert rewritten.log.tree_size() < state.size
        with pytest.raises(WitnessRefusedError, match="rolled back or forked") as caught:
            witness_once(forked, key, state)
        assert caught.value.kind == "rewind"
        # The same size with another root, and a larger tree not extending it: a fork.
        _file(rewritten, state.size - rewritten.log.tree_size())
        assert rewritten.log.tree_size() == state.size
        with pytest.raises(WitnessRefusedError, match="another root") as caught:
            witness_once(forked, key, state)
        assert caught.value.kind == "fork"
        _file(rewritten, 3)
        with pytest.raises(WitnessRefusedError, match="history was rewritten") as caught:
            witness_once(forked, key, state)
        assert caught.value.kind == "fork"
        assert forked.cosigned == []  # nothing was ever signed for the rewritten log


def test_tampered_nodes_or_checkpoints_are_refused(ledger: Ledger, key: WitnessKey,
                                                   database_url: str) -> None:
    token = _audit_with_witness_key(ledger, key)
    with _log(ledger, token) as log:
        state = witness_once(log, key, None, log_key=ledger.identity.log_key.encode()).state
        log.cosigned.clear()
        _file(ledger, 6)
        tamper = Tamperer(database_url, ledger.identity.profile)
        # A stored node the consistency proof reads is rewritten: the proof no longer joins.
        node = merkle.root_nodes(state.size)[0]
        tamper.alter_node(node.level, node.index)
        with pytest.raises(WitnessRefusedError) as caught:
            witness_once(log, key, state)
        assert caught.value.kind == "fork"
        tamper.alter_node(node.level, node.index)  # flip the bit back
        # The latest checkpoint is re-signed by another key under the log's name.
        latest = ledger.log.tree_size()
        tamper.alter_checkpoint(latest, root=True, resign_with=INTL.signature.generate())
        with pytest.raises(LedgerError):  # the server itself refuses to serve it …
            ledger.trusted_checkpoint()
        forged = tamper.checkpoint(latest)[1]
        log.checkpoint = lambda: forged  # type: ignore[method-assign]
        with pytest.raises(WitnessRefusedError) as caught:  # … and so does the witness
            witness_once(log, key, state)
        assert caught.value.kind == "signature"
        assert log.cosigned == []


def test_a_checkpoint_not_signed_by_the_pinned_key_is_refused(
        ledger: Ledger, key: WitnessKey) -> None:
    token = _audit_with_witness_key(ledger, key)
    impostor = generate_witness_key(ledger.identity.origin).verifier_key.encode()
    with _log(ledger, token) as log:
        with pytest.raises(WitnessRefusedError) as caught:
            witness_once(log, key, None, log_key=impostor)
        assert caught.value.kind == "signature"
        state = witness_once(log, key, None, log_key=ledger.identity.log_key.encode()).state
        with pytest.raises(WitnessRefusedError) as caught:
            witness_once(log, key, state, log_key=impostor)
        assert caught.value.kind == "log-key"


# --- the CLI against a real HTTP server -----------------------------------------------------


@contextmanager
def _serving(ledger: Ledger) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(ledger=ledger), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_witness_cli_cosigns_then_refuses_a_fork_with_exit_1(
        ledger: Ledger, rewritten: Ledger, database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    key_file, state = tmp_path / "witness.key", tmp_path / "state.json"
    result = runner.invoke(cli_app, ["witness-keygen", "--name", "audit.gaoxin.example/w",
                                     "-o", str(key_file), "--json"])
    assert result.exit_code == 0, result.output
    verifier = json.loads(result.stdout)["verifier_key"]
    ledger.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
    env = {"LEDGER_DATABASE_URL": database_url}
    result = runner.invoke(cli_app, ["witness-register", "audit-sun", "--verifier-key",
                                     verifier, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli_app, ["witness-register", "office-li", "--verifier-key",
                                   verifier], env=env).exit_code == 2  # audit actors only
    log_key = ledger.identity.log_key.encode()
    _file(ledger, 3)
    with _serving(ledger) as url:
        args = ["witness", "--url", url, "--key", str(key_file), "--state", str(state),
                "--token", ledger.tokens.issue("audit-sun")]
        result = runner.invoke(cli_app, [*args, "--log-key", log_key, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["ok"] is True
        _file(ledger, 2)
        result = runner.invoke(cli_app, args)
        assert result.exit_code == 0, result.output
        assert "consistent with size" in result.stdout
    saved = state.read_text()

    key = WitnessKey.parse(key_file.read_text())
    rewritten.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
    rewritten.register_public_key("audit-sun", key.signer.public_key)
    _file(rewritten, 12)
    with _serving(rewritten) as url:
        result = runner.invoke(cli_app, ["witness", "--url", url, "--key", str(key_file),
                                         "--state", str(state),
                                         "--token", rewritten.tokens.issue("audit-sun")])
        assert result.exit_code == 1
        assert "REFUSED" in result.stderr
        assert "history was rewritten" in result.stderr
        result = runner.invoke(cli_app, ["witness", "--url", url, "--key", str(key_file),
                                         "--state", str(state), "--token", "wrong"])
        assert result.exit_code == 2  # 401: a connection problem, not a verdict
        assert "HTTP 401" in result.stderr
    assert state.read_text() == saved  # the state never moves to a refused checkpoint
