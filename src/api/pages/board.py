"""逾期事项 (the overdue board): every open or overdue obligation across projects (docs/design.md
§4.3), with how many days each is overdue — in working days (the Measures' periods of Arts. 13
and 26 count them) and in calendar days — sortable, and exportable as CSV or Excel.

Days overdue count the days after the due date up to the evaluation date: due on Friday and
still not met on Monday is 1 working day and 3 calendar days overdue. Where the working-day
calendar does not know a year of the interval, the working-day count is left empty rather than
guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from api.pages import i18n
from api.pages.explain import explain
from api.pages.exports import Column, csv_response, xlsx_response
from api.pages.routes import Ctx, PageRoute, _ctx, _render
from ledger.measures.calendar import CalendarYearMissingError, WorkingCalendar

router = APIRouter(route_class=PageRoute, include_in_schema=False)

_SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "due": lambda r: r["due"] or "9999-12-31",
    "days": lambda r: r["calendar_days"] if r["calendar_days"] is not None else -1,
    "working": lambda r: r["working_days"] if r["working_days"] is not None else -1,
    "unit": lambda r: r["unit_name"],
    "project": lambda r: str(r["title"]),
    "status": lambda r: str(r["status"]),
    "article": lambda r: int("".join(ch for ch in str(r["article"]) if ch.isdigit())[:3] or 0),
}


def days_overdue(due: str | None, on: date,
                 calendar: WorkingCalendar) -> tuple[int | None, int | None]:
    """(working days, calendar days) after ``due`` up to ``on``; (None, None) if not overdue."""
    if not due:
        return None, None
    day = date.fromisoformat(due)
    if on <= day:
        return None, None
    try:
        working: int | None = calendar.working_days_between(day, on)
    except CalendarYearMissingError:
        working = None
    return working, (on - day).days


def board_rows(ctx: Ctx, status: str, unit: str) -> tuple[list[dict[str, Any]], date]:
    """The board's rows (before sorting): open and overdue obligations of live projects."""
    actor = ctx.need_actor()
    on = ctx.service.ledger.today()
    calendar = ctx.service.ledger.calendar
    wanted = {"overdue"} if status == "overdue" else {"open", "overdue", "pending_calendar"}
    terminated = ctx.reads.terminated(actor)
    rows = []
    for row in ctx.service.obligations(actor, on=on):
        if row["status"] not in wanted or str(row["project"]) in terminated:
            continue
        if unit and row["unit"] != unit:
            continue
        working, days = (days_overdue(str(row["due"]) if row["due"] else None, on, calendar)
                         if row["status"] == "overdue" else (None, None))
        rows.append({**row, "unit_name": ctx.unit_name(str(row["unit"]) if row["unit"] else None),
                     "working_days": working, "calendar_days": days,
                     "explained": explain(row, ctx.lang, ctx.unit_name)})
    return rows, on


def order(rows: list[dict[str, Any]], sort: str, direction: str) -> list[dict[str, Any]]:
    """By due date then unit and title; then by the asked column (stable)."""
    rows.sort(key=lambda r: (str(r["due"] or "9999-12-31"), r["unit_name"], str(r["title"])))
    key = _SORTS.get(sort)
    if key is not None:
        rows.sort(key=key, reverse=direction == "desc")
    return rows


def _params(request: Request) -> tuple[str, str, str, str]:
    given = request.query_params
    sort = given.get("sort") or ""
    return ((given.get("status") or "")[:16], (given.get("unit") or "")[:64],
            sort if sort in _SORTS else "", "desc" if given.get("dir") == "desc" else "")


@router.get("/overdue")
def overdue_page(request: Request) -> Response:
    """逾期事项: open and overdue obligations with days overdue; ``status``, ``unit``, ``sort``
    (due, days, working, unit, project, status, article) and ``dir`` (desc)."""
    ctx = _ctx(request)
    actor = ctx.need_actor()
    status, unit, sort, direction = _params(request)
    rows, on = board_rows(ctx, status, unit)
    rows = order(rows, sort, direction)
    by_unit: dict[str, dict[str, Any]] = {}
    for row in rows:
        counts = by_unit.setdefault(row["unit_name"], {"open": 0, "overdue": 0})
        counts["overdue" if row["status"] == "overdue" else "open"] += 1
    units = sorted(((u, ctx.unit_name(u)) for u in ctx.reads.library(actor).units),
                   key=lambda p: p[1])
    base = {k: v for k, v in (("status", status), ("unit", unit)) if v}

    def sort_link(column: str) -> str:
        flip = "desc" if sort == column and direction != "desc" else ""
        params = {**base, "sort": column, **({"dir": flip} if flip else {})}
        return "/overdue?" + urlencode(params)

    keep = urlencode({**base, **({"sort": sort} if sort else {}),
                      **({"dir": direction} if direction else {})})
    return _render(ctx, "overdue.html", rows=rows, by_unit=sorted(by_unit.items()),
                   units=units, chosen={"status": status, "unit": unit, "sort": sort,
                                        "dir": direction},
                   on=on, sort_link=sort_link,
                   csv_link="/overdue.csv" + (f"?{keep}" if keep else ""),
                   xlsx_link="/overdue.xlsx" + (f"?{keep}" if keep else ""))


def export_columns(ctx: Ctx) -> list[Column]:
    """The board's columns as exported."""
    t, lang = ctx.t, ctx.lang
    return [
        Column(t("col.due"), lambda r: r["due"] or ""),
        Column(t("col.status"), lambda r: i18n.label(i18n.STATUSES, r["status"], lang)),
        Column(f"{t('col.days_overdue')} ({t('col.working_days')})",
               lambda r: "" if r["working_days"] is None else r["working_days"]),
        Column(f"{t('col.days_overdue')} ({t('col.calendar_days')})",
               lambda r: "" if r["calendar_days"] is None else r["calendar_days"]),
        Column(t("col.unit"), lambda r: r["unit_name"]),
        Column(t("col.project"), lambda r: r["title"]),
        Column(t("project.id"), lambda r: r["project"]),
        Column(t("col.obligation"), lambda r: i18n.label(i18n.RULES, r["rule"], lang)),
        Column(t("col.description"), lambda r: r["explained"]),
        Column(t("col.article"), lambda r: i18n.article(str(r["article"]), lang)),
    ]


def _export(request: Request) -> tuple[Ctx, list[dict[str, Any]]]:
    ctx = _ctx(request)
    ctx.need_actor()
    status, unit, sort, direction = _params(request)
    rows, _ = board_rows(ctx, status, unit)
    return ctx, order(rows, sort, direction)


@router.get("/overdue.csv")
def overdue_csv(request: Request) -> Response:
    """The board as shown (same parameters) as CSV."""
    ctx, rows = _export(request)
    return csv_response(export_columns(ctx), rows, "逾期事项.csv")


@router.get("/overdue.xlsx")
def overdue_xlsx(request: Request) -> Response:
    """The board as shown (same parameters) as an Excel workbook."""
    ctx, rows = _export(request)
    return xlsx_response(export_columns(ctx), rows, "逾期事项.xlsx", ctx.t("overdue.title"))
