"""The project page says when a unit was reminded of an obligation (已提醒), from the reminder log;
on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from ledger.app import Ledger
from ledger.measures.importing import project_stream
from ledger.measures.reminding import Reminder
from ledger.service.importer import Importer
from ledger.service.reminders import ChannelRow, Reminders

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ledger" / "service"))
from importbook import library


class Outbox:
    """A channel that keeps what it is sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Reminder] = []

    def send(self, reminder: Reminder) -> None:
        self.sent.append(reminder)


def test_the_project_page_shows_reminded_on(ledger: Ledger, client: TestClient,
                                            tmp_path: Path) -> None:
    book = library(1, ("edu",))
    Importer(ledger).run(book.write_xlsx(tmp_path / "l.xlsx").read_bytes(), "l.xlsx")
    project = project_stream(ledger.identity.origin, "GX-00000")
    outboxes: list[Outbox] = []

    def channel(row: ChannelRow) -> Outbox:
        outboxes.append(Outbox(row.name))
        return outboxes[-1]

    reminders = Reminders(ledger, channel_for=channel)
    reminders.book.add_channel("edu", "email", "xinxihua@edu.gaoxin.example", None,
                               ledger.now())
    report = reminders.run(date(2026, 12, 29))  # two working days before 31 December
    sent = [d for d in report.deliveries if d.outcome == "sent"]
    # The Office attests the opinion of 2024-11-20, so reports are owed from 2024; none filed.
    assert sorted((d.due.rule, d.due.stage, d.due.due) for d in sent) == [
        ("annual_report", "due_soon", "2026-12-31"),
        ("annual_report", "overdue", "2024-12-31"),
        ("annual_report", "overdue", "2025-12-31")]
    assert "年度建设进度和预算执行情况报告" in outboxes[0].sent[0].text

    client.cookies.clear()
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    client.post("/signin", data={"csrf": csrf.group(1), "token": ledger.tokens.issue("office-li"),
                                 "next": "/projects"})
    shown = client.get(f"/projects/{project}")
    assert shown.status_code == 200
    assert re.search(r"已提醒（即将到期，电子邮件）\s*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d 北京时间",
                     shown.text)
