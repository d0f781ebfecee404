"""``ledger remind`` with a fixed clock across National Day 2025, through a real SMTP server
(aiosmtpd) and a local HTTP receiver that checks the WeCom and DingTalk robot formats and
DingTalk's signature; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from ledger.app import Ledger
from ledger.measures.calendar import default_calendar
from ledger.measures.catalogue import example_payload
from ledger.measures.reminding import compose, stage_of
from ledger.measures.roles import Role
from ledger.measures.rules import Obligation
from ledger.service.notify import dingtalk_sign, dingtalk_signed_url, label
from ledger.service.reminders import Reminders
from ledger.settings import Settings
from ledgertest import upload_example_documents

CST = timezone(timedelta(hours=8))
SECRET = "SEC0123456789abcdef"


class Clock:
    """The ledger's clock, moved by the test (never backwards)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def at(self, day: date, hour: int = 9) -> None:
        self.now = max(self.now, datetime(day.year, day.month, day.day, hour, tzinfo=CST))

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now.astimezone(UTC)


@dataclass
class Mailbox:
    """What the SMTP server received."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on localhost."""
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Robots:
    """What the robot receiver accepted, what it refused, and a robot that fails at first."""

    wecom: list[dict[str, Any]] = field(default_factory=list)
    dingtalk: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    broken_left: int = 3
    broken_calls: int = 0
    url: str = ""


@pytest.fixture
def robots() -> Iterator[Robots]:
    """A local HTTP receiver for WeCom and DingTalk robot messages."""
    seen = Robots()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if "application/json" not in self.headers["Content-Type"]:
                seen.refused.append("content type")
                return self._answer(200, {"errcode": 40008, "errmsg": "bad type"})
            if parts.path == "/broken":
                seen.broken_calls += 1
                if seen.broken_left > 0:
                    seen.broken_left -= 1
                    return self._answer(500, {"errcode": -1})
                return self._answer(200, {"errcode": 0, "errmsg": "ok"})
            if parts.path == "/cgi-bin/webhook/send":
                ok = (query.get("key") == ["wecom-key"] and body.get("msgtype") == "markdown"
                      and isinstance(body["markdown"].get("content"), str))
                if not ok:
                    seen.refused.append(f"wecom {body}")
                    return self._answer(200, {"errcode": 40058, "errmsg": "invalid"})
                seen.wecom.append(body)
                return self._answer(200, {"errcode": 0, "errmsg": "ok"})
            if parts.path == "/robot/send":
                timestamp = query.get("timestamp", ["0"])[0]
                expected = base64.b64encode(hmac.new(
                    SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256,
                ).digest()).decode()
                fresh = abs(int(timestamp) - time.time() * 1000) < 3_600_000
                markdown = body.get("markdown", {})
                ok = (query.get("access_token") == ["ding-token"]
                      and query.get("sign") == [expected] and fresh
                      and body.get("msgtype") == "markdown"
                      and isinstance(markdown.get("title"), str)
                      and isinstance(markdown.get("text"), str))
                if not ok:
                    seen.refused.append(f"dingtalk {self.path}")
                    return self._answer(200, {"errcode": 310000, "errmsg": "sign not match"})
                seen.dingtalk.append(body)
                return self._answer(200, {"errcode": 0, "errmsg": "ok"})
            return self._answer(404, {"errcode": 404})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def test_dingtalk_signature_matches_the_published_recipe() -> None:
    # Python's own HMAC-SHA256 over "timestamp\nsecret", base64, then URL-encoded.
    sign = dingtalk_sign("SECxyz", 1_700_000_000_000)
    assert sign == base64.b64encode(hmac.new(b"SECxyz", b"1700000000000\nSECxyz",
                                             hashlib.sha256).digest()).decode()
    url = dingtalk_signed_url("https://oapi.example/robot/send?access_token=t", "SECxyz",
                              1_700_000_000_000)
    query = parse_qs(urlsplit(url).query)
    assert query["timestamp"] == ["1700000000000"]
    assert query["sign"] == [sign]


def test_stages_count_working_days_across_national_day() -> None:
    calendar = default_calendar()
    due = Obligation("catalogue", "Art. 26", "catalogue", "2025-10-16", "open")
    assert stage_of(due, date(2025, 10, 12), calendar, 3) is None  # 4 working days left
    assert stage_of(due, date(2025, 10, 13), calendar, 3) == ("due_soon", 3)
    assert stage_of(due, date(2025, 10, 16), calendar, 3) == ("due_today", 0)
    assert stage_of(due, date(2025, 10, 19), calendar, 3) == ("overdue", -3)
    # Eight calendar days before the due date, but only two working days (Oct 1–8 are off).
    over_holiday = Obligation("rectification", "Art. 30", "report", "2025-10-09", "open")
    assert stage_of(over_holiday, date(2025, 9, 30), calendar, 3) == ("due_soon", 1)
    met = Obligation("catalogue", "Art. 26", "catalogue", "2025-10-16", "met")
    assert stage_of(met, date(2025, 10, 16), calendar, 3) is None


def test_the_message_names_project_obligation_article_due_date_and_link() -> None:
    reminder = compose(title="智慧校园一期", unit_name="教育和体育部",
                       obligation=Obligation("catalogue", "Art. 26", "catalogue compiled",
                                             "2025-10-16", "open"),
                       stage="due_soon", left=3, link="https://ledger.example/projects/p")
    for words in ("智慧校园一期", "目录编制及数据归集", "第二十六条", "2025-10-16（北京时间）",
                  "还有 3 个工作日", "https://ledger.example/projects/p", "教育和体育部"):
        assert words in reminder.text
    assert reminder.subject == ("【即将到期】智慧校园一期："
                                "目录编制及数据归集（初步验收后10个工作日内）")


def _setup(make_ledger: Callable[..., Ledger], settings: Settings, smtp_port: int,
           clock: Clock) -> Ledger:
    configured = settings.model_copy(update={
        "smtp_port": smtp_port, "smtp_from": "ledger@gaoxin.example",
        "public_url": "https://ledger.gaoxin.example"})
    ledger = make_ledger(clock=clock)
    ledger.settings = configured
    ledger.initialise()
    upload_example_documents(ledger)
    ledger.register_actor("office-li", Role.OFFICE, None, "综合管理办公室 李")
    ledger.register_actor("edu-wang", Role.UNIT, "edu", "教育和体育部 王")
    opened = ledger.file("edu-wang", "ApplicationFiled", example_payload("ApplicationFiled"))
    ledger.file("edu-wang", "PreliminaryAcceptanceCompleted",
                {"completed_on": "2025-09-26"}, stream=opened.stream)
    order = dict(example_payload("RectificationOrdered"))
    order["deadline"] = "2025-10-09"
    ledger.file("office-li", "RectificationOrdered", order, stream=opened.stream)
    return ledger


def test_reminders_go_out_once_each_across_the_holiday(
        make_ledger: Callable[..., Ledger], settings: Settings, smtp: tuple[Mailbox, int],
        robots: Robots) -> None:
    box, port = smtp
    clock = Clock(datetime(2025, 9, 26, 10, tzinfo=CST))
    ledger = _setup(make_ledger, settings, port, clock)
    reminders = Reminders(ledger, sleep=lambda _: None)
    at = ledger.now()
    book = reminders.book
    book.add_channel("edu", "email", "xinxihua@edu.gaoxin.example", None, at)
    book.add_channel("edu", "wecom", robots.url + "/cgi-bin/webhook/send?key=wecom-key", None,
                     at)
    book.add_channel("edu", "dingtalk", robots.url + "/robot/send?access_token=ding-token",
                     SECRET, at)
    book.add_channel("edu", "wecom", robots.url + "/broken", None, at)

    sent_named: list[tuple[str, str, str, str, str]] = []
    reports = {}
    day = date(2025, 9, 26)
    while day <= date(2025, 10, 20):
        clock.at(day)
        if day == date(2025, 9, 28):  # a dry run first: it says what would go, and sends none
            dry = reminders.run(dry_run=True)
            assert dry.count("would_send") == 4
            assert not box.messages
            assert book.log() == []
        report = reminders.run()
        reports[day] = report
        sent_named.extend((day.isoformat(), d.due.rule, d.due.stage, d.channel.split(":")[0],
                           d.channel) for d in report.deliveries if d.outcome == "sent")
        day += timedelta(days=1)

    expected_days = [("2025-09-28", "rectification", "due_soon"),
                     ("2025-10-09", "rectification", "due_today"),
                     ("2025-10-10", "rectification", "overdue"),
                     ("2025-10-13", "catalogue", "due_soon"),
                     ("2025-10-16", "catalogue", "due_today"),
                     ("2025-10-17", "catalogue", "overdue")]
    for kind in ("email", "dingtalk"):
        assert [(d, r, s) for d, r, s, k, _ in sent_named if k == kind] == expected_days
    # Two WeCom robots: the good one every time, and the broken one — it failed three times on
    # 28 September (reported), was tried again on the 29th and got through then.
    broken = label("wecom", robots.url + "/broken")
    by_broken = [(d, r, s) for d, r, s, k, name in sent_named if name == broken]
    good = [(d, r, s) for d, r, s, k, name in sent_named if k == "wecom" and name != broken]
    assert good == expected_days
    assert by_broken == [("2025-09-29", "rectification", "due_soon"), *expected_days[1:]]
    first = reports[date(2025, 9, 28)]
    failed = [d for d in first.deliveries if d.outcome == "failed"]
    assert len(failed) == 1
    assert failed[0].attempts == 3
    assert "HTTP 500" in str(failed[0].error)
    assert first.count("sent") == 3  # the others went out all the same
    assert robots.broken_calls == 4 + 5  # 3 failed + 1 retried next day, then 5 more stages
    assert robots.refused == []

    assert len(box.messages) == 6
    mail = box.messages[3]
    assert mail["To"] == "xinxihua@edu.gaoxin.example"
    body = mail.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert "目录编制及数据归集" in body
    assert "第二十六条" in body
    assert "2025-10-16（北京时间）" in body
    project = next(iter(reports[date(2025, 10, 16)].deliveries)).due.project
    assert f"https://ledger.gaoxin.example/projects/{project}" in body
    assert len(robots.dingtalk) == 6
    assert len(robots.wecom) == 6
    assert "整改" in robots.dingtalk[0]["markdown"]["title"]

    # Never twice: running again on any of those days sends nothing more.
    again = reminders.run(date(2025, 10, 17))
    assert again.count("sent") == 0
    assert again.already == 8  # both obligations are overdue; four channels each
    log = book.log()
    assert len([r for r in log if r["status"] == "sent"]) == 24
    assert {r["stage"] for r in log} == {"due_soon", "due_today", "overdue"}
