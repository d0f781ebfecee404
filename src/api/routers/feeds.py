"""``GET /units/{unit}/obligations.ics``: a unit's open obligations as an RFC 5545 calendar.

One all-day event per open (or overdue) obligation with a due date, built from the library
state on every request, so a filing that meets an obligation removes its event at the next
refresh. The feed is opened by its own secret (``?token=FEED.SECRET``, issued and revoked with
``ledger feeds``), since calendar clients send no bearer token; a wrong, revoked or other
unit's token is 404, telling nothing about the unit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from icalendar import Calendar, Event

from api.deps import ServiceDep
from ledger.measures import rules
from ledger.measures.importing import article_zh
from ledger.measures.reminding import OBLIGATION_ZH, obligation_key
from ledger.service.feeds import FeedBook
from ledger.service.sidetables import SideTables

router = APIRouter(tags=["feeds"])

OPEN = ("open", "overdue")


def feed_book(request: Request, database_url: str) -> FeedBook:
    """The app's feed book (one per app: its tables are created once)."""
    book = getattr(request.app.state, "feed_book", None)
    if not isinstance(book, FeedBook):
        book = FeedBook(SideTables(database_url))
        request.app.state.feed_book = book
    return book


@router.get("/units/{unit}/obligations.ics", response_class=Response,
            summary="The unit's open obligations as an iCalendar feed (RFC 5545)",
            responses={200: {"content": {"text/calendar": {}}}, 404: {"description":
                       "no such feed (wrong or revoked token)"}})
def obligations_feed(request: Request, service: ServiceDep,
                     unit: Annotated[str, Path(max_length=64)],
                     token: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Subscribe with ``…/units/UNIT/obligations.ics?token=FEED.SECRET``."""
    ledger = service.ledger
    if not feed_book(request, ledger.settings.database_url).check(unit, token):
        raise HTTPException(status_code=404, detail="no such feed")
    today = ledger.today()
    state = service.library_state(None)
    calendar = Calendar()
    calendar.add("prodid", "-//audit-ledger//obligations//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{unit} 项目义务（信息化项目监管审计账本）")
    calendar.add("x-wr-timezone", "Asia/Shanghai")
    stamp = ledger.clock().astimezone(UTC).replace(microsecond=0)
    host = ledger.identity.origin.split("/")[0]
    base = ledger.settings.public_url.rstrip("/")
    for project_id, facts in sorted(state.projects.items()):
        if state.unit_of(facts) != unit:
            continue
        for obligation in rules.obligations(facts, today, ledger.calendar):
            if obligation.status not in OPEN or obligation.due is None:
                continue
            calendar.add_component(_event(str(project_id), facts.title or str(project_id),
                                          obligation, stamp, host, f"{base}/projects/"
                                          f"{project_id}"))
    return Response(calendar.to_ical(), media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


def _event(project: str, title: str, obligation: rules.Obligation, stamp: datetime,
           host: str, link: str) -> Event:
    due = date.fromisoformat(str(obligation.due))
    what = OBLIGATION_ZH.get(obligation.rule, obligation.rule)
    late = "【已逾期】" if obligation.status == "overdue" else ""
    event = Event()
    event.add("uid", f"{obligation_key(project, obligation)}@{host}")
    event.add("dtstamp", stamp)
    event.add("dtstart", due)
    event.add("dtend", due + timedelta(days=1))
    event.add("summary", f"{late}{title}：{what}")
    event.add("description", f"{what}（{article_zh(obligation.article)}）\n{obligation.detail}"
                             f"\n截止：{due.isoformat()}（北京时间）\n{link}")
    event.add("url", link)
    event.add("categories", [obligation.rule])
    event.add("x-ledger-project", project)
    event.add("x-ledger-status", obligation.status)
    return event


__all__ = ["feed_book", "router"]
