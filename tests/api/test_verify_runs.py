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
from pagestest import Demo, Gate, csrf_of

from api import services
from api.services import Actor, LedgerService
from api.verify_runs import BackgroundVerify
from ledger.errors import AuthorisationError
from ledger.measures.roles import Role


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
    demo.ledger.log.put_meta("verify.run.1", json.dumps(record))
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
    assert 'data-field="verify-unreadable"' in page.text
    assert "可能在数据库中被改动" in page.text
    assert 'data-field="verify">通过<' not in page.text  # never read as a pass
    assert "立即校验" in page.text  # and a new run puts it right
    demo.client.post("/log/verify", data={"csrf": demo.csrf("/log")})
    assert _runs(demo).wait(30)
    assert 'data-field="verify">通过<' in demo.client.get("/log").text
