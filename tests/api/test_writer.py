"""The writer process: a server's group commits decided and appended in a process of its own."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import app as app_module
from api.app import create_app
from api.services import Actor, EventInput, Filed
from api.writer import WriterProcess, WriterUnavailableError
from ledger.app import Ledger
from ledger.errors import ProjectNotFoundError, RuleViolationError
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings

EDU = Actor("edu-wang", Role.UNIT, "edu")


@pytest.fixture(autouse=True)
def _untuned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's interpreter settings are process-wide: not for the test process."""
    monkeypatch.setattr(app_module, "tune_for_serving", lambda: None)


@pytest.fixture
def writer(ledger: Ledger, settings: Settings) -> Iterator[WriterProcess]:
    process = WriterProcess(settings)
    yield process
    process.close()


def _supplement(stream: uuid.UUID, nonce: uuid.UUID | None = None) -> tuple[Actor, EventInput]:
    return EDU, EventInput(type="MaterialsSupplemented",
                           payload=EXAMPLES["MaterialsSupplemented"], stream=stream, nonce=nonce)


def test_a_batch_is_answered_filing_by_filing(writer: WriterProcess, ledger: Ledger) -> None:
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    nonce = uuid.uuid4()
    results = writer.file_many([
        _supplement(stream, nonce),
        (EDU, EventInput(type="ContractFiled", payload=EXAMPLES["ContractFiled"],
                         stream=stream)),
        _supplement(uuid.uuid4()),
    ])
    assert isinstance(results[0], Filed)
    assert (results[0].receipt.stream, results[0].receipt.seq) == (stream, 2)
    assert isinstance(results[1], RuleViolationError)
    assert results[1].article == "Art. 9"  # the refusal crosses the pipe with its fields
    assert isinstance(results[2], ProjectNotFoundError)
    again = writer.file_many([_supplement(stream, nonce)])[0]  # an idempotent retry
    assert isinstance(again, Filed)
    assert again.replayed
    assert again.receipt == results[0].receipt
    assert [e.originator_version for e in ledger.events_of(stream)] == [1, 2]


def test_a_writer_that_died_fails_its_batch_and_the_next_starts_a_new_one(
        writer: WriterProcess, ledger: Ledger) -> None:
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    first = writer.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    with pytest.raises(WriterUnavailableError):
        writer.file_many([_supplement(stream)])
    result = writer.file_many([_supplement(stream)])[0]
    assert isinstance(result, Filed)
    assert writer.pid not in (None, first)


def test_a_closed_writer_refuses_and_close_is_idempotent(writer: WriterProcess) -> None:
    pid = writer.pid
    writer.close()
    writer.close()
    with pytest.raises(WriterUnavailableError):
        writer.file_many([_supplement(uuid.uuid4())])
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_writer_on_an_empty_database_refuses_to_start(tmp_path: Path) -> None:
    empty = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}", environment="test")
    with pytest.raises(RuntimeError, match="failed to start"):
        WriterProcess(empty)


def test_a_server_files_through_its_writer_and_stops_it(
        ledger: Ledger, settings: Settings) -> None:
    token = ledger.tokens.issue("edu-wang")
    with TestClient(create_app(settings)) as client:
        writer = client.app.state.writer  # type: ignore[attr-defined]
        assert isinstance(writer, WriterProcess)
        response = client.post("/api/v1/projects", json={"payload": EXAMPLES["ApplicationFiled"]},
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.text
        pid = writer.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert ledger.events_of(uuid.UUID(response.json()["stream"]))


def test_a_server_set_to_thread_writes_in_process(ledger: Ledger, settings: Settings) -> None:
    threaded = settings.model_copy(update={"writer": "thread"})
    with TestClient(create_app(threaded)) as client:
        assert client.app.state.writer is None  # type: ignore[attr-defined]
        assert client.app.state.service.committer is not None  # type: ignore[attr-defined]


def test_a_key_rotated_by_the_api_process_is_not_used_by_the_writer(
        writer: WriterProcess, ledger: Ledger) -> None:
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    assert isinstance(writer.file_many([_supplement(stream)])[0], Filed)  # registry cached
    old = ledger.registry().current_key("edu-wang", ledger.now()).key_id
    new = ledger.rotate_key("edu-wang").key_id  # admin routes run in the API process
    ledger.revoke_key(old)
    result = writer.file_many([_supplement(stream)])[0]
    assert isinstance(result, Filed), result
    assert ledger.events_of(stream)[result.receipt.seq - 1].filing.key == new


def test_a_writer_that_cannot_be_restarted_answers_503(
        writer: WriterProcess, tmp_path: Path) -> None:
    pid = writer.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(WriterUnavailableError):
        writer.file_many([_supplement(uuid.uuid4())])
    # The database is gone (here: a settings change to an empty one) when it restarts.
    writer.settings = Settings(database_url=f"sqlite:///{tmp_path / 'gone.db'}",
                               environment="test")
    with pytest.raises(WriterUnavailableError, match="failed to start"):
        writer.file_many([_supplement(uuid.uuid4())])
