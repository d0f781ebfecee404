"""A starting server with witnesses configured takes no filing (503 witness-check-pending with
Retry-After, ``/readyz`` failing) until a quorum of witnesses cosigned its log in this process;
witnesses that stay silent leave it refusing (``strict``) or, after the wait, taking filings
(``lenient``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pushtest import RunningWitness, make_witness, open_project, wait_for, witnessed_settings

from api.app import create_app
from ledger.app import Ledger
from ledger.measures.roles import Role
from ledger.settings import Settings

Auth = Callable[[str], dict[str, str]]
_NOWHERE = "http://127.0.0.1:1"  # nothing listens there


class _Held(httpx.AsyncBaseTransport):
    """The witness's transport, holding every request until ``release`` is set."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.release = threading.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return await self.inner.handle_async_request(request)


@contextmanager
def _serving(settings: Settings, transport: httpx.AsyncBaseTransport | None,
             ) -> Iterator[tuple[TestClient, Ledger]]:
    served = Ledger(settings)
    try:
        app = create_app(ledger=served)
        if transport is not None:
            app.state.witness_transport = transport
        with TestClient(app) as client:
            yield client, served
    finally:
        served.close()


def _configured(settings: Settings, witness: RunningWitness, **update: object) -> Settings:
    return witnessed_settings(settings, witness).model_copy(update=update)


def _pending(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"].endswith("/witness-check-pending")
    assert int(answer.headers["Retry-After"]) >= 1


def test_filings_wait_for_the_witness_then_are_taken(
        tmp_path: Path, settings: Settings, ledger: Ledger, headers: Auth) -> None:
    witness = make_witness(tmp_path, ledger)
    ledger.register_actor("admin-zhou", Role.ADMIN, None, "管理员 周")
    held = _Held(witness.transport)
    with _serving(_configured(settings, witness), held) as (client, served):
        size = served.log.tree_size()
        _pending(open_project(client, headers("edu-wang")))
        _pending(client.get("/readyz"))
        # Key registry changes append to the log too: refused alike.
        _pending(client.post("/api/v1/actors", headers=headers("admin-zhou"), json={
            "actor": "office-new", "role": "office", "display_name": "新"}))
        assert served.log.tree_size() == size  # nothing was appended
        held.release.set()
        wait_for(lambda: client.get("/readyz").status_code == 200)
        assert open_project(client, headers("edu-wang")).status_code == 201


def test_an_unreachable_witness_keeps_a_strict_server_refusing(
        tmp_path: Path, settings: Settings, ledger: Ledger, headers: Auth) -> None:
    witness = make_witness(tmp_path, ledger)
    config = _configured(settings, witness, witness_start_wait=0.2,
                         witnesses=f"w1 {_NOWHERE} {witness.witness.vkey}")
    with _serving(config, None) as (client, served):
        size = served.log.tree_size()

        def says_strict() -> bool:
            answer = open_project(client, headers("edu-wang"))
            _pending(answer)
            return "LEDGER_WITNESS_START=strict" in answer.json()["detail"]

        wait_for(says_strict)
        listed = client.get("/log/witnesses", headers=headers("office-li")).json()
        assert "LEDGER_WITNESS_START=strict" in listed["pending"]
        detail = client.get("/readyz").json()["detail"]
        assert "ConnectError" in detail  # names why the witness did not confirm
        assert served.log.tree_size() == size


def test_a_lenient_server_takes_filings_after_the_wait(
        tmp_path: Path, settings: Settings, ledger: Ledger, headers: Auth) -> None:
    witness = make_witness(tmp_path, ledger)
    config = _configured(settings, witness, witness_start_wait=0.3, witness_start="lenient",
                         witnesses=f"w1 {_NOWHERE} {witness.witness.vkey}")
    with _serving(config, None) as (client, _):
        _pending(open_project(client, headers("edu-wang")))
        wait_for(lambda: open_project(client, headers("edu-wang")).status_code == 201)
        assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(("quorum", "taken"), [(1, True), (None, False)])
def test_the_quorum_of_agreeing_witnesses(
        tmp_path: Path, settings: Settings, ledger: Ledger, headers: Auth,
        quorum: int | None, taken: bool) -> None:
    """One of two witnesses answers: enough for a quorum of 1, not for the default (all)."""
    first = make_witness(tmp_path, ledger)
    second = make_witness(tmp_path, ledger, "audit-w2")
    config = _configured(settings, first, witness_quorum=quorum, witnesses=(
        f"{first.config}; audit-w2 {_NOWHERE} {second.witness.vkey}"))
    with _serving(config, first.transport) as (client, served):
        wait_for(lambda: served.log.cosignatures(served.log.tree_size()))
        wait_for(lambda: client.app.state.witnessing.views()[1].error)  # type: ignore[attr-defined]
        answer = open_project(client, headers("edu-wang"))
        if taken:
            answer = wait_for(lambda: (r := open_project(client, headers("edu-wang")))
                              .status_code == 201 and r)
        else:
            _pending(answer)
            assert answer.json()["agreeing"] == 1
            assert answer.json()["quorum"] == 2


def test_a_quorum_larger_than_the_witnesses_is_refused(
        tmp_path: Path, settings: Settings, ledger: Ledger) -> None:
    from ledger.errors import ConfigurationError  # noqa: PLC0415

    witness = make_witness(tmp_path, ledger)
    with pytest.raises(ConfigurationError, match="LEDGER_WITNESS_QUORUM is 2"), _serving(
            _configured(settings, witness, witness_quorum=2), witness.transport):
        pass
