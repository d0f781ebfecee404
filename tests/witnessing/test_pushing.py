"""The server pushes its checkpoints to a real C2SP witness (``witness.service.Witness`` behind its
ASGI app, its own SQLite state), stores and serves the cosignatures; and the rollback drill on
SQLite and PostgreSQL: the witness cosigns size N, the newest entries, nodes, checkpoints,
cosignatures and heads map versions are deleted in the database, and the server halts (503 on
filings, ``/readyz`` failing) — also after filings on top of the rolled-back log (a fork)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pushtest import (
    RunningWitness,
    open_project,
    roll_back,
    serving,
    wait_for,
    witnessed_settings,
)
from pushtest import make_witness as _make_witness

from api.witness_check import check_witnesses
from api.witness_status import witness_table
from api.witnessing import Witnessing
from ledger.app import Ledger
from ledger.log.checkpoint import SignedNote, verify_note
from ledger.log.witness import LogRollbackError, parse_witnesses
from ledger.measures.roles import Role
from ledger.settings import Settings

Auth = Callable[[str], dict[str, str]]


def _cosigned_size(client: object, witness_vkey: str) -> int | None:
    """The size of the served checkpoint if it carries a valid cosignature of the witness."""
    from ledger.log.checkpoint import VerifierKey  # noqa: PLC0415

    text = client.get("/checkpoint").text  # type: ignore[attr-defined]
    note = SignedNote.parse(text)
    try:
        verify_note(note, [VerifierKey.parse(witness_vkey)])
    except Exception:
        return None
    return note.checkpoint.size


def test_the_server_pushes_and_serves_cosignatures(
        tmp_path: Path, settings: Settings, make_ledger: Callable[..., Ledger],
        opened: Callable[[Settings], Ledger],
        ledger: Ledger, headers: Auth) -> None:
    witness = _make_witness(tmp_path, ledger)
    served = opened(witnessed_settings(settings, witness))
    origin = ledger.identity.origin
    with serving(served, witness) as client:
        size = served.log.tree_size()
        assert wait_for(lambda: _cosigned_size(client, witness.witness.vkey) == size)
        # New filings: pushed from the size cosigned before, with a consistency proof.
        for _ in range(3):
            assert open_project(client, headers("edu-wang")).status_code == 201
        grown = served.log.tree_size()
        assert grown > size
        assert wait_for(lambda: _cosigned_size(client, witness.witness.vkey) == grown)
        assert witness.size(origin) == grown
        # Both checkpoint routes and the stored rows carry the cosignature line.
        logged = client.get("/log/checkpoint", headers=headers("office-li")).text
        assert logged == client.get("/checkpoint").text
        assert len(served.log.cosignatures(grown)) == 1
        assert client.get("/readyz").status_code == 200
        views = client.app.state.witnessing.views()  # type: ignore[attr-defined]
        assert [(v.name, v.cosigned_size, v.error) for v in views] == [
            ("audit-w1", grown, None)]


def test_a_restarted_server_learns_the_witness_size_from_409(
        tmp_path: Path, settings: Settings, make_ledger: Callable[..., Ledger],
        opened: Callable[[Settings], Ledger],
        ledger: Ledger) -> None:
    witness = _make_witness(tmp_path, ledger)
    first = opened(witnessed_settings(settings, witness))
    with serving(first, witness) as client:
        wait_for(lambda: _cosigned_size(client, witness.witness.vkey))
    ledger.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
    second = opened(witnessed_settings(settings, witness))
    size = second.log.tree_size()
    with serving(second, witness) as client:  # pushes old 0, told 409 with the old size
        assert wait_for(lambda: _cosigned_size(client, witness.witness.vkey) == size)
        assert client.get("/readyz").status_code == 200


def _assert_halted(client: object, headers: Auth, witness_name: str, *,
                   restarted: bool = False) -> None:
    """Filings end refused as rolled back; a ``restarted`` server never takes one before
    (503 witness-check-pending until the witness answered)."""
    seen: list[str] = []

    def rolled_back() -> object:
        answer = open_project(client, headers("edu-wang"))  # type: ignore[arg-type]
        seen.append(f"{answer.status_code} {answer.json().get('type', '')}")
        return answer.json().get("type", "").endswith("/log-rolled-back") and answer

    answer = wait_for(rolled_back)
    if restarted:
        assert all(s.startswith("503 ") and s.endswith(("/witness-check-pending",
                                                        "/log-rolled-back")) for s in seen), seen
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert problem["type"].endswith("/log-rolled-back")
    assert witness_name in problem["witness"]
    assert problem["witness_size"] > problem["log_size"] or problem["cause"] == "fork"
    ready = client.get("/readyz")  # type: ignore[attr-defined]
    assert ready.status_code == 503
    assert ready.json()["witness"] == problem["witness"]


def _check(ledger: Ledger, witness: RunningWitness) -> list[LogRollbackError]:
    """What ``ledger verify --witnesses`` finds (the witness reached in-process)."""
    answers = asyncio.run(check_witnesses(ledger, parse_witnesses(witness.config),
                                          transport=witness.transport))
    assert all(answer.error is None for answer in answers), answers
    return [answer.alarm for answer in answers if answer.alarm is not None]


@pytest.mark.parametrize("grow_after", [0, 5], ids=["rollback", "fork"])
def test_rollback_drill(tmp_path: Path, settings: Settings, database_url: str,
                        make_ledger: Callable[..., Ledger],
        opened: Callable[[Settings], Ledger], ledger: Ledger, headers: Auth,
                        grow_after: int) -> None:
    """Witness cosigns N; the newest 3 leaves are deleted; with ``grow_after`` 5 filings are
    then made on the rolled-back log (size N + 2, a fork). The restarted server halts and the
    check of ``ledger verify --witnesses`` names the witness."""
    witness = _make_witness(tmp_path, ledger)
    served = opened(witnessed_settings(settings, witness))
    origin = ledger.identity.origin
    with serving(served, witness) as client:
        wait_for(lambda: _cosigned_size(client, witness.witness.vkey))
        keep = served.log.tree_size()
        for _ in range(3):  # one leaf per filing, each its own checkpoint
            assert open_project(client, headers("edu-wang")).status_code == 201
        size_n = served.log.tree_size()
        assert size_n == keep + 3
        assert wait_for(lambda: witness.size(origin) == size_n)
    assert _check(served, witness) == []
    roll_back(database_url, keep)
    attacker = make_ledger()
    assert attacker.log.tree_size() == keep
    for number in range(grow_after // 2 + grow_after % 2):  # 2 leaves each: 6 > 5
        attacker.register_actor(f"audit-x{number}", Role.AUDIT, None, f"x{number}")
    ours = attacker.log.tree_size()
    assert (ours > size_n) == (grow_after > 0)
    findings = _check(attacker, witness)
    assert len(findings) == 1
    finding = findings[0]
    assert finding.witness_size == size_n
    assert finding.our_size == ours
    assert finding.kind == ("fork" if grow_after else "rollback")
    assert "audit-w1" in str(finding)
    # The newest checkpoint it is known to have cosigned survived the deletion (size keep).
    assert finding.last_consistent == keep
    restarted = opened(witnessed_settings(settings, witness))
    with serving(restarted, witness) as client:
        _assert_halted(client, headers, "audit-w1", restarted=True)
    assert restarted.log.tree_size() == ours  # no filing was acknowledged on the rolled-back log
    assert witness.size(origin) == size_n  # the witness never cosigned the rewritten log


def test_a_running_server_halts_when_its_log_shrinks(
        tmp_path: Path, settings: Settings, database_url: str,
        make_ledger: Callable[..., Ledger],
        opened: Callable[[Settings], Ledger], ledger: Ledger, headers: Auth) -> None:
    witness = _make_witness(tmp_path, ledger)
    served = opened(witnessed_settings(settings, witness))
    with serving(served, witness) as client:
        wait_for(lambda: _cosigned_size(client, witness.witness.vkey))
        keep = served.log.tree_size()
        assert open_project(client, headers("edu-wang")).status_code == 201
        wait_for(lambda: witness.size(ledger.identity.origin) == keep + 1)
        roll_back(database_url, keep)
        _assert_halted(client, headers, "audit-w1")


def test_a_bad_cosignature_is_not_stored(tmp_path: Path, ledger: Ledger) -> None:
    """A witness whose lines do not verify under the configured key: nothing stored."""
    witness = _make_witness(tmp_path, ledger)
    other = _make_witness(tmp_path, ledger, "audit-w2")
    endpoint = parse_witnesses(f"audit-w1 http://witness.test {other.witness.vkey}")
    pushing = Witnessing(ledger, endpoint, 0.05, transport=witness.transport)

    async def once() -> None:
        await pushing.push_once()
        await pushing.stop()

    asyncio.run(once())
    size = ledger.log.tree_size()
    assert ledger.log.cosignatures(size) == []
    [view] = pushing.views()
    assert view.cosigned_size is None
    assert view.error is not None
    assert "no signature line" in view.error


def test_an_unreachable_witness_does_not_halt(tmp_path: Path, ledger: Ledger) -> None:
    witness = _make_witness(tmp_path, ledger)
    endpoint = parse_witnesses(f"w http://127.0.0.1:1 {witness.witness.vkey}")  # nothing there
    pushing = Witnessing(ledger, endpoint, 0.05)

    async def once() -> None:
        await pushing.push_once()
        await pushing.stop()

    asyncio.run(once())
    assert pushing.halt is None
    assert "ConnectError" in (pushing.views()[0].error or "")


def test_the_log_page_shows_each_witness_and_its_lag(
        tmp_path: Path, settings: Settings, ledger: Ledger, headers: Auth,
        opened: Callable[[Settings], Ledger]) -> None:
    first = _make_witness(tmp_path, ledger)
    second = _make_witness(tmp_path, ledger, "audit-w2")
    config = witnessed_settings(settings, first).model_copy(update={
        "witnesses": f"{first.config}; audit-w2 http://127.0.0.1:1 {second.witness.vkey}"})
    served = opened(config)
    with serving(served, first) as client:
        size = served.log.tree_size()
        wait_for(lambda: _cosigned_size(client, first.witness.vkey) == size)
        table = witness_table(client.app, served)
        assert [(r.name, r.size, r.behind) for r in table.rows] == [
            ("audit-w1", size, 0), ("audit-w2", None, None)]
        assert table.current == 1
        assert table.rows[1].error is not None  # nothing listens there
        client.cookies.clear()
        page = client.get("/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        token = headers("office-li")["Authorization"].removeprefix("Bearer ")
        client.post("/signin", data={"csrf": csrf.group(1), "token": token, "next": "/log"},
                    follow_redirects=False)
        shown = client.get("/log").text
        assert 'data-witness="audit-w1"' in shown
        assert 'data-witness="audit-w2"' in shown
        assert "1/2 个见证方已联署最新检查点" in shown or "1 of 2 witnesses" in shown
        listed = client.get("/log/witnesses", headers=headers("office-li")).json()
        assert listed["cosigned_latest"] == 1
        assert [w["name"] for w in listed["witnesses"]] == ["audit-w1", "audit-w2"]
        assert listed["witnesses"][0]["behind"] == 0


def test_a_gm_ledger_is_witnessed(tmp_path: Path, database_url: str) -> None:
    """SM2/SM3 log, Ed25519 cosignatures: pushed, verified and stored; growth is proved with
    SM3 consistency proofs the witness checks; the witness key registers on a gm ledger as a
    witness key."""
    gm = Ledger(Settings(database_url=database_url, environment="test", profile="gm"))
    try:
        gm.initialise(profile="gm")
        gm.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
        witness = _make_witness(tmp_path, gm)
        endpoints = parse_witnesses(witness.config)

        def push() -> Witnessing:
            pushing = Witnessing(gm, endpoints, 0.05, transport=witness.transport)

            async def once() -> None:
                await pushing.push_once()
                await pushing.push_once()
                await pushing.stop()

            asyncio.run(once())
            return pushing

        push()
        first = gm.log.tree_size()
        assert witness.size(gm.identity.origin) == first
        gm.register_actor("audit-li", Role.AUDIT, None, "审计分局 李")
        pushed = push()  # from 0: 409, then from `first` with an SM3 proof
        grown = gm.log.tree_size()
        assert [(v.cosigned_size, v.error) for v in pushed.views()] == [(grown, None)]
        assert witness.size(gm.identity.origin) == grown
        key = witness.witness.key
        record = gm.actors.register_public_key("audit-sun", key.signer.public_key,
                                               purpose="witness", suite="ed25519")
        assert (record.purpose, record.suite) == ("witness", "ed25519")
    finally:
        gm.close()
