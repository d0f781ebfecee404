"""The log page's "verify now" runs in the background (``api.verify_runs``): the page answers at
once, shows how far the run has got while it refreshes itself, starts no second run, and then
shows the kept result; a run the database cut short says so; stopping the server stops it."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pagestest import Demo, Gate, csrf_of, sign_in_client

from api import services
from api.services import Actor, LedgerService
from api.verify_runs import BackgroundVerify
from ledger.app import Ledger
from ledger.errors import AuthorisationError
from ledger.evidence.verify_record import (
    VerifyRecordSignatureError,
    sign_result,
    signed_message,
)
from ledger.log.entries import b64decode
from ledger.measures.roles import Role
from ledgertest import run_sql


def _keep(demo: Demo, record: dict[str, Any], number: int) -> None:
    """Keep ``record`` as ``verify.run.<number>``, signed with the log key as the ledger does."""
    demo.ledger.log.put_meta(f"verify.run.{number}", sign_result(
        demo.ledger.custody.log_signer(), record, origin=demo.ledger.identity.origin,
        number=number))


def _runs(demo: Demo) -> BackgroundVerify:
    runs: BackgroundVerify = demo.client.app.state.verify_runs  # type: ignore[attr-defined]
    return runs


def test_the_page_answers_at_once_and_follows_the_run(demo: Demo, verify_gate: Gate) -> None:
    demo.sign_in("audit-sun")
    before = LedgerService(demo.ledger).last_verify()
    started = demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")},
                               follow_redirects=False)
    assert started.status_code == 303  # while verify is still under way
    assert verify_gate.reached.wait(30)
    page = demo.client.get(started.headers["location"])
    size = demo.ledger.log.tree_size()
    assert 'data-field="verify-running"' in page.text
    assert f"已检查 {size} / {size} 个条目" in page.text
    assert '<meta http-equiv="refresh" content="2; url=/log?verified=1">' in page.text
    assert "立即校验" not in page.text  # no second run from the page
    assert 'role="status">最近一次完整性校验' not in page.text  # no result before there is one
    assert LedgerService(demo.ledger).last_verify() == before  # nothing kept yet
    demo.sign_in("admin-zhou")  # a second click, by someone else, joins the run
    again = demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")},
                             follow_redirects=False)
    assert again.status_code == 303
    running, _ = _runs(demo).status()
    assert running is not None
    assert running.by == "audit-sun"
    verify_gate.open()
    assert _runs(demo).wait(30)
    done = demo.client.get("/log?verified=1")
    assert 'data-field="verify">通过<' in done.text
    assert 'role="status">最近一次完整性校验: 通过' in done.text
    assert "http-equiv" not in done.text
    assert "立即校验" in done.text
    name = demo.ledger.registry().actors["audit-sun"].display_name
    assert f"{name} (audit-sun)" in done.text  # as officials know the auditor
    last = LedgerService(demo.ledger).last_verify()
    assert last is not None
    assert (last["by"], last["entries"]) == ("audit-sun", size)


def test_only_admin_and_audit_start_a_run(demo: Demo) -> None:
    demo.sign_in("office-li")
    refused = demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")})
    assert refused.status_code == 403
    assert _runs(demo).status() == (None, None)
    with pytest.raises(AuthorisationError):
        _runs(demo).start(LedgerService(demo.ledger), Actor("edu-wang", Role.UNIT, "edu"))
    assert _runs(demo).status() == (None, None)


def test_a_run_the_database_cut_short_says_so(demo: Demo,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def outage(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(services, "verify_ledger", outage)
    demo.sign_in("audit-sun")
    before = LedgerService(demo.ledger).last_verify()
    demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")})
    assert _runs(demo).wait(30)
    page = demo.client.get("/log?verified=1")
    assert 'data-field="verify-stopped"' in page.text
    assert "上次校验未能完成：数据库暂不可用" in page.text
    assert 'role="status">最近一次完整性校验' not in page.text  # no stale "passed"
    assert LedgerService(demo.ledger).last_verify() == before
    monkeypatch.undo()
    demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")})  # the next run clears it
    assert _runs(demo).wait(30)
    assert "verify-stopped" not in demo.client.get("/log").text


def test_an_internal_error_is_logged_and_shown(demo: Demo, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "verify_ledger", broken)
    demo.sign_in("admin-zhou")
    with caplog.at_level("ERROR", logger="ledger.verify"):
        demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")})
        assert _runs(demo).wait(30)
    assert "上次校验未能完成：服务器内部错误" in demo.client.get("/log").text
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)


def test_stopping_the_server_stops_the_run_and_keeps_nothing(demo: Demo,
                                                             verify_gate: Gate) -> None:
    demo.sign_in("audit-sun")
    before = LedgerService(demo.ledger).last_verify()
    demo.client.post("/log/verify", data={"csrf": csrf_of(demo.client.get("/log").text)})
    assert verify_gate.reached.wait(30)
    stopping = threading.Thread(target=_runs(demo).stop)
    stopping.start()
    verify_gate.open()  # the run reaches its next progress report, which ends it
    stopping.join(30)
    assert _runs(demo).status() == (None, None)
    assert LedgerService(demo.ledger).last_verify() == before


def test_a_result_two_days_old_is_called_old(demo: Demo) -> None:
    """The nightly verify keeps a result a day: an older last result means the timer stopped
    or a newer result is gone, and the page says so."""
    demo.sign_in("audit-sun")
    record = {"ok": True, "entries": demo.ledger.log.tree_size(), "streams": 1, "signatures": 1,
              "checkpoints": 1, "nodes": 1, "failures": 0, "first_failure": None,
              "started_at": "2020-01-01T00:00:00.000000Z",
              "finished_at": "2020-01-01T00:00:01.000000Z", "duration_ms": 1000,
              "by": "ledger verify"}
    _keep(demo, record, 1)  # signed as the ledger signs its own
    days = (datetime.now(UTC) - datetime(2020, 1, 1, tzinfo=UTC)).days
    old = demo.client.get("/log")
    assert 'data-field="verify-stale"' in old.text
    assert f"这次校验已是 {days} 天前" in old.text
    assert "命令行或每晚的定时校验（ledger verify）" in old.text  # who ran it, in words
    demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")})
    assert _runs(demo).wait(30)
    assert "verify-stale" not in demo.client.get("/log").text  # a fresh result is not old


@pytest.mark.parametrize("record", [
    {"ok": True, "finished_at": "garbage", "entries": "x"},
    {"ok": "yes", "finished_at": 12, "entries": None, "by": ["audit-sun"]},
    {},
    [],
    "passed",
])
def test_a_record_edited_beneath_the_ledger_is_no_error(demo: Demo,
                                                        record: object) -> None:
    """The kept results live in a table the database's operator can edit: whatever is there,
    the log page answers (never a 500), showing it as it is and judging none of it."""
    demo.sign_in("audit-sun")
    demo.ledger.log.put_meta("verify.run.1", json.dumps(record))
    page = demo.client.get("/log")
    assert page.status_code == 200, page.text
    # Not an object: unreadable; an object without the log key's signature: unsigned.
    assert ('data-field="verify-unreadable"' in page.text
            or 'data-field="verify-unsigned"' in page.text)
    assert "可能在数据库中被" in page.text
    assert 'data-field="verify">通过<' not in page.text  # never read as a pass
    assert "立即校验" in page.text  # and a new run puts it right
    demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")})
    assert _runs(demo).wait(30)
    assert 'data-field="verify">通过<' in demo.client.get("/log").text


def _passed(demo: Demo) -> dict[str, Any]:
    """A well-formed passing result, as a run now would keep it."""
    return {"ok": True, "entries": demo.ledger.log.tree_size(), "streams": 1, "signatures": 1,
            "checkpoints": 1, "nodes": 1, "failures": 0, "first_failure": None,
            "started_at": demo.ledger.now(), "finished_at": demo.ledger.now(),
            "duration_ms": 10, "by": "audit-sun"}


def _signed(demo: Demo, record: dict[str, Any], number: int) -> dict[str, Any]:
    text = sign_result(demo.ledger.custody.log_signer(), record,
                       origin=demo.ledger.identity.origin, number=number)
    kept: dict[str, Any] = json.loads(text)
    return kept


def _forgeries(demo: Demo) -> dict[str, dict[str, Any]]:
    """What an operator who can write ``ledger_meta``, but holds no log key, can make the newest
    kept result say: each must be shown as unsigned, never as a pass."""
    failed = {**_passed(demo), "ok": False, "failures": 3, "first_failure": "leaf 5: edited"}
    signed_failure = _signed(demo, failed, 1)
    registry_key = demo.ledger.custody.signer(demo.ledger.identity.root_key_id)
    other = sign_result(registry_key, _passed(demo), origin=demo.ledger.identity.origin,
                        number=1)
    return {
        "unsigned": _passed(demo),
        "a failure turned into a pass": {**signed_failure, "ok": True, "failures": 0,
                                         "first_failure": None},
        "a signature of another result": {**_passed(demo),
                                          "signature": signed_failure["signature"]},
        "signed by another of the ledger's keys": json.loads(other),
        "another ledger's result": _signed(demo, _passed(demo), 1) | {"origin": "elsewhere"},
        "not base64": {**_passed(demo), "origin": demo.ledger.identity.origin, "number": 1,
                       "signature": "!!"},
    }


@pytest.mark.parametrize("forgery", ["unsigned", "a failure turned into a pass",
                                     "a signature of another result",
                                     "signed by another of the ledger's keys",
                                     "another ledger's result", "not base64"])
def test_a_pass_written_into_the_database_is_not_shown_as_one(demo: Demo, forgery: str) -> None:
    """An operator with the database, not the log key, writes a passing result as the newest:
    the page says it is not the system's, and never shows 通过."""
    demo.sign_in("audit-sun")
    demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")})  # a real run first
    assert _runs(demo).wait(30)
    assert 'data-field="verify">通过<' in demo.client.get("/log").text
    record = _forgeries(demo)[forgery]
    if "number" in record:
        record["number"] = 2  # what a signature of run 2 would say: the newest
    demo.ledger.log.put_meta("verify.run.2", json.dumps(record))
    page = demo.client.get("/log")
    assert page.status_code == 200, page.text
    assert 'data-field="verify-unsigned"' in page.text
    assert "没有本账本日志密钥的有效签名" in page.text
    assert 'data-field="verify">通过<' not in page.text
    with pytest.raises(VerifyRecordSignatureError):
        LedgerService(demo.ledger).last_verify_record()


def test_an_old_pass_copied_over_a_newer_failure_is_not_shown_as_one(demo: Demo) -> None:
    """Run 1 passed and run 2 failed, both signed; the operator copies run 1 over run 2 (or
    as run 3): the copy is signed for its own number, so it is shown as unsigned."""
    demo.sign_in("audit-sun")
    passed = _passed(demo)
    failed = {**passed, "ok": False, "failures": 1, "first_failure": "leaf 5: edited"}
    _keep(demo, passed, 1)
    _keep(demo, failed, 2)
    assert 'data-field="verify">未通过<' in demo.client.get("/log").text
    copied = demo.ledger.log.get_meta("verify.run.1")
    assert copied is not None
    run_sql(demo.ledger.settings.database_url,
            "DELETE FROM {ledger_meta} WHERE key = 'verify.run.2'")
    demo.ledger.log.put_meta("verify.run.2", copied)
    page = demo.client.get("/log").text
    assert 'data-field="verify-unsigned"' in page
    assert 'data-field="verify">通过<' not in page
    demo.ledger.log.put_meta("verify.run.3", copied)
    assert 'data-field="verify-unsigned"' in demo.client.get("/log").text


def test_kept_results_are_signed_with_the_log_key(demo: Demo) -> None:
    """A run from the page is kept with the log key's signature over its fields, its ledger
    and its number, under a context that no checkpoint note can have."""
    demo.sign_in("audit-sun")
    demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")})
    assert _runs(demo).wait(30)
    kept = json.loads(demo.ledger.log.get_meta("verify.run.1") or "")
    identity = demo.ledger.identity
    assert (kept["origin"], kept["number"]) == (identity.origin, 1)
    message = signed_message(kept, origin=identity.origin, number=1)
    assert message.startswith(b"audit-ledger/verify-result/v1\n{")
    identity.profile.signature.verify(identity.log_key.public_key, message,
                                      b64decode(kept["signature"]))


def test_no_result_at_all_on_a_ledger_two_days_old_is_called_out(
        ledger: Ledger, client: TestClient) -> None:
    """The nightly verify keeps a result a day: a ledger with days of entries and no result
    at all (its timer never enabled, or every result deleted in the database) says so in red,
    where a new ledger only says there is none yet."""
    ledger.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
    sign_in_client(client, ledger.tokens.issue("audit-sun"))
    assert 'data-field="verify">尚无校验记录' in client.get("/log").text  # a new ledger
    run_sql(ledger.settings.database_url, "UPDATE {log_leaves} SET recorded_at ="
            " '2020-01-01T00:00:00.000000Z' WHERE leaf_index = 0")  # its first entry, years ago
    days = (datetime.now(UTC) - datetime(2020, 1, 1, tzinfo=UTC)).days
    page = client.get("/log").text
    assert 'data-field="verify-never"' in page
    assert f"账本已有 {days} 天的条目，却没有任何校验记录" in page
    LedgerService(ledger).run_verify(Actor("audit-sun", Role.AUDIT, None))
    assert "verify-never" not in client.get("/log").text  # a result is kept now


def test_the_demo_has_no_result_and_no_alarm(demo: Demo) -> None:
    """The demo's entries are a made-up history of years: no alarm for its missing results."""
    demo.sign_in("audit-sun")
    page = demo.client.get("/log").text
    assert 'data-field="verify">尚无校验记录' in page
    assert "verify-never" not in page
