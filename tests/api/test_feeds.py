"""``GET /units/{unit}/obligations.ics``: parses with icalendar and with the independent ``ics``
parser, matches the obligations view, follows filings, and opens only with a live secret of
that unit; on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import ics
from fastapi.testclient import TestClient
from icalendar import Calendar

from ledger.app import Ledger
from ledger.service.feeds import FeedBook
from ledger.service.importer import Importer
from ledger.service.sidetables import SideTables

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ledger" / "service"))
from importbook import library


def _feeds(ledger: Ledger) -> FeedBook:
    return FeedBook(SideTables(ledger.settings.database_url))


def _unfolded(text: str) -> list[str]:
    """RFC 5545 §3.1 by hand: CRLF line ends, lines of at most 75 octets, unfolded."""
    assert text.endswith("\r\n")
    raw = text.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in raw)
    lines: list[str] = []
    for line in raw:
        if line.startswith((" ", "\t")):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def _view(client: TestClient, headers: dict[str, str], unit: str) -> set[tuple[str, str, str]]:
    rows = client.get("/api/v1/obligations", headers=headers).json()
    return {(r["project"], r["rule"], r["due"]) for r in rows
            if r["unit"] == unit and r["status"] in ("open", "overdue") and r["due"]}


def test_the_feed_is_the_units_open_obligations(
        ledger: Ledger, client: TestClient, auth: Callable[[str], dict[str, str]],
        tmp_path: Path) -> None:
    book = library(4, ("edu", "health"))
    Importer(ledger).run(book.write_xlsx(tmp_path / "l.xlsx").read_bytes(), "l.xlsx")
    feed, token = _feeds(ledger).issue("edu", ledger.now())
    answer = client.get(f"/units/edu/obligations.ics?token={token}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    text = answer.text

    parsed = Calendar.from_ical(text)
    events = list(parsed.walk("VEVENT"))
    found = {(str(e["X-LEDGER-PROJECT"]), str(e["CATEGORIES"].cats[0]),
              e.decoded("DTSTART").isoformat()) for e in events}
    office = auth("office-li")
    expected = _view(client, office, "edu")
    assert found == expected
    assert len(events) == len(expected) > 0
    assert all("（北京时间）" in str(e["DESCRIPTION"]) for e in events)

    other = ics.Calendar(text)
    assert {(e.begin.date().isoformat(), e.name) for e in other.events} == {
        (e.decoded("DTSTART").isoformat(), str(e["SUMMARY"])) for e in events}
    lines = _unfolded(text)
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] == "END:VCALENDAR"
    assert sum(line == "BEGIN:VEVENT" for line in lines) == len(expected)
    assert len({line for line in lines if line.startswith("UID:")}) == len(expected)

    # A filing that meets an obligation takes its event off the feed at the next refresh.
    project, _rule, due = sorted(p for p in expected if p[1] == "annual_report")[-1]
    filed = client.post(f"/api/v1/projects/{project}/events", headers=auth("edu-wang"), json={
        "type": "ProgressReported", "payload": {
            "year": int(due[:4]), "summary": "年度建设进度", "budget_executed_fen": 1}})
    assert filed.status_code in (200, 201), filed.text
    after = Calendar.from_ical(client.get(f"/units/edu/obligations.ics?token={token}").text)
    assert len(list(after.walk("VEVENT"))) == len(expected) - 1

    # Only a live secret of that unit opens it.
    assert client.get("/units/edu/obligations.ics").status_code == 404
    assert client.get(f"/units/edu/obligations.ics?token={feed.feed}.wrong").status_code == 404
    assert client.get(f"/units/health/obligations.ics?token={token}").status_code == 404
    assert _feeds(ledger).revoke(feed.feed, ledger.now())
    assert client.get(f"/units/edu/obligations.ics?token={token}").status_code == 404
    assert [f.revoked_at is not None for f in _feeds(ledger).feeds("edu")] == [True]
