"""图表: three charts drawn on the server as SVG (no script, no library, nothing from another
host), each with the table of its numbers beside it for screen readers and for print:

* funding by unit: approved budget, construction funds arranged, contracts, construction funds
  disbursed (万元; O&M money is not part of the approved budget and is left out);
* deadlines in the next 60 working days: every open obligation on a timeline, one row per unit;
* overdue obligations per unit at the end of each month: the count each unit had overdue then,
  as the ledger knew it then (each project's entries recorded by that day, evaluated on it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from markupsafe import Markup, escape

from api.pages import i18n
from api.pages.library import totals, view_rows
from api.pages.routes import Ctx, PageRoute, _ctx, _render
from api.pages.text import wan
from ledger.measures import rules
from ledger.measures.aggregates import fact_entry
from ledger.measures.calendar import CalendarYearMissingError, WorkingCalendar
from ledger.measures.facts import ProjectFacts, empty_facts, fold, recorded_on

router = APIRouter(route_class=PageRoute, include_in_schema=False)

WIDTH = 960
PALETTE = ("#0b63c4", "#a4161a", "#1b7a3a", "#b26a00", "#6b2fa3", "#00838f", "#5b6475",
           "#c2185b", "#2e7d32", "#ef6c00")
SERIES = (("approved_budget_fen", "col.approved", "s-approved"),
          ("arranged_c_fen", "col.arranged_c", "s-arranged"),
          ("contracted_fen", "col.contracted", "s-contracted"),
          ("disbursed_c_fen", "col.disbursed_c", "s-disbursed"))
HORIZON_WORKING_DAYS = 60
HISTORY_MONTHS = 24


def _e(text: object) -> str:
    return str(escape(str(text)))


def _svg(height: int, label: str, body: list[str], css: str) -> Markup:
    # Every piece of text is escaped by _e; the markup around it is ours.
    return Markup(  # noqa: S704
        f'<svg class="{css}" viewBox="0 0 {WIDTH} {height}" role="img"'
        f' aria-label="{_e(label)}" xmlns="http://www.w3.org/2000/svg">'
        f'<title>{_e(label)}</title>{"".join(body)}</svg>')


# --- funding by unit -----------------------------------------------------------------------


def funding_svg(per_unit: Sequence[dict[str, Any]], t: Callable[..., str]) -> Markup:
    """Grouped horizontal bars per unit, in 万元."""
    left, right, bar, gap = 170, 110, 12, 14
    group = bar * len(SERIES) + gap
    height = 30 + group * max(len(per_unit), 1)
    biggest = max([int(u[k] or 0) for u in per_unit for k, _, _ in SERIES] + [1])
    scale = (WIDTH - left - right) / biggest
    body = [f'<line class="axis" x1="{left}" y1="20" x2="{left}" y2="{height - 6}"/>']
    for step in range(1, 5):
        x = left + (WIDTH - left - right) * step / 4
        body.append(f'<line class="gridline" x1="{x:.1f}" y1="20" x2="{x:.1f}"'
                    f' y2="{height - 6}"/><text class="muted" x="{x:.1f}" y="14"'
                    f' text-anchor="middle">{_e(wan(biggest * step // 4))}</text>')
    for index, unit in enumerate(per_unit):
        top = 24 + index * group
        body.append(f'<text x="{left - 8}" y="{top + bar * 2 + 4}" text-anchor="end">'
                    f'{_e(unit["unit_name"])}</text>')
        for n, (key, heading, css) in enumerate(SERIES):
            value = int(unit[key] or 0)
            y = top + n * bar
            w = max(value * scale, 0.5 if value else 0)
            body.append(f'<rect class="{css}" x="{left}" y="{y}" width="{w:.1f}"'
                        f' height="{bar - 1}"><title>{_e(unit["unit_name"])} · {_e(t(heading))}:'
                        f' {_e(wan(value))} {_e(t("yuan_wan"))}</title></rect>'
                        f'<text class="muted" x="{left + w + 4:.1f}" y="{y + bar - 2}"'
                        f' font-size="10">{_e(wan(value))}</text>')
    return _svg(height, t("charts.funding"), body, "chart-funding")


# --- deadlines ahead -----------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """An open obligation due within the horizon."""

    due: date
    unit_name: str
    title: str
    project: str
    rule: str
    article: str
    detail: str


def horizon_end(calendar: WorkingCalendar, today: date) -> date:
    """The 60th working day after today (84 calendar days where the calendar has no year)."""
    try:
        return calendar.add_working_days(today, HORIZON_WORKING_DAYS)
    except CalendarYearMissingError:
        return today + timedelta(days=84)


def deadlines_svg(items: Sequence[Deadline], today: date, end: date, lang: str,
                  t: Callable[..., str]) -> Markup:
    """One row per unit, one dot per deadline, today on the left."""
    left, right = 170, 20
    units = sorted({d.unit_name for d in items})
    row = 26
    height = 46 + row * max(len(units), 1)
    span = max((end - today).days, 1)

    def x(day: date) -> float:
        return left + (WIDTH - left - right) * (day - today).days / span

    body = [f'<line class="dl-today" x1="{left}" y1="18" x2="{left}" y2="{height - 8}"/>',
            f'<text x="{left}" y="12" text-anchor="start">{_e(t("charts.today"))}'
            f' {today.isoformat()}</text>']
    month = date(today.year, today.month, 1)
    while True:
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        if x(month) > WIDTH - right - 30:
            break
        body.append(f'<line class="gridline" x1="{x(month):.1f}" y1="18" x2="{x(month):.1f}"'
                    f' y2="{height - 8}"/><text class="muted" x="{x(month):.1f}" y="{height - 2}"'
                    f' text-anchor="middle">{month.year}-{month.month:02d}</text>')
    body.append(f'<text class="muted" x="{WIDTH - right}" y="12" text-anchor="end">'
                f'{end.isoformat()}</text>')
    for index, unit in enumerate(units):
        y = 34 + index * row
        body.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{_e(unit)}</text>'
                    f'<line class="gridline" x1="{left}" y1="{y}" x2="{WIDTH - right}" y2="{y}"/>')
        for d in (d for d in items if d.unit_name == unit):
            rule = i18n.label(i18n.RULES, d.rule, lang)
            body.append(f'<circle class="dl-dot" cx="{x(d.due):.1f}" cy="{y}" r="6">'
                        f'<title>{d.due.isoformat()} · {_e(d.title)} · {_e(rule)}'
                        f' ({_e(i18n.article(d.article, lang))})</title></circle>')
    return _svg(height, t("charts.deadlines"), body, "chart-deadlines")


# --- overdue over time -----------------------------------------------------------------------


def month_ends(today: date, months: int) -> list[date]:
    """The last day of each of the ``months`` months before today's, then today."""
    ends = []
    first = date(today.year, today.month, 1)
    for _ in range(months):
        first_prev = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
        ends.append(first - timedelta(days=1))
        first = first_prev
    return [*sorted(ends), today]


def overdue_history(ctx: Ctx, projects: Sequence[tuple[str, str]], days: Sequence[date]
                    ) -> dict[str, list[int]]:
    """Per unit name: how many obligations were overdue on each day, as known on that day."""
    ledger = ctx.service.ledger
    calendar = ledger.calendar
    counts: dict[str, list[int]] = {}
    for project_id, unit in projects:
        events = ledger.events_of(UUID(project_id))
        facts: ProjectFacts = empty_facts(project_id)
        index = 0
        for n, day in enumerate(days):
            while index < len(events) and recorded_on(events[index].recorded_at or "") <= (
                    day.isoformat()):
                facts = fold(facts, fact_entry(events[index]))
                index += 1
            if facts.application is None or facts.terminated is not None:
                continue
            overdue = sum(1 for o in rules.obligations(facts, day, calendar)
                          if o.status == "overdue")
            counts.setdefault(unit, [0] * len(days))[n] += overdue
    return dict(sorted(counts.items()))


def history_svg(series: dict[str, list[int]], days: Sequence[date],
                t: Callable[..., str]) -> Markup:
    """One line per unit over the month ends."""
    left, right, top, bottom = 50, 20, 16, 40
    height = 280
    biggest = max([max(v) for v in series.values()] + [1])
    inner_w, inner_h = WIDTH - left - right, height - top - bottom
    step = inner_w / max(len(days) - 1, 1)

    def y(count: int) -> float:
        return top + inner_h * (1 - count / biggest)

    body = [f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + inner_h}"/>',
            f'<line class="axis" x1="{left}" y1="{top + inner_h}" x2="{WIDTH - right}"'
            f' y2="{top + inner_h}"/>']
    for tick in sorted({0, biggest // 2, biggest}):
        body.append(f'<text class="muted" x="{left - 6}" y="{y(tick) + 4:.1f}"'
                    f' text-anchor="end">{tick}</text><line class="gridline" x1="{left}"'
                    f' y1="{y(tick):.1f}" x2="{WIDTH - right}" y2="{y(tick):.1f}"/>')
    for n, day in enumerate(days):
        if n % 3 == 0 or n == len(days) - 1:
            body.append(f'<text class="muted" x="{left + n * step:.1f}" y="{height - 20}"'
                        f' text-anchor="middle" font-size="10">{day.isoformat()[:7]}</text>')
    for index, (unit, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(f"{left + n * step:.1f},{y(v):.1f}" for n, v in enumerate(values))
        body.append(f'<polyline class="line" stroke="{colour}" points="{points}">'
                    f'<title>{_e(unit)}</title></polyline>')
        for n, v in enumerate(values):
            if v:
                body.append(f'<circle cx="{left + n * step:.1f}" cy="{y(v):.1f}" r="3"'
                            f' fill="{colour}"><title>{_e(unit)} · {days[n].isoformat()}:'
                            f' {v}</title></circle>')
    return _svg(height, t("charts.history"), body, "chart-history")


@router.get("/charts")
def charts_page(request: Request) -> Response:
    """图表: funding by unit, deadlines in the next 60 working days, overdue counts over time."""
    ctx = _ctx(request)
    actor = ctx.need_actor()
    library = ctx.reads.library(actor)
    rows = view_rows(ctx, library)
    per_unit, grand = totals(rows)
    today = ctx.service.ledger.today()
    end = horizon_end(ctx.service.ledger.calendar, today)
    terminated = ctx.reads.terminated(actor)
    ahead = sorted((Deadline(date.fromisoformat(str(o["due"])),
                             ctx.unit_name(str(o["unit"]) if o["unit"] else None),
                             str(o["title"]), str(o["project"]), str(o["rule"]),
                             str(o["article"]), str(o["detail"]))
                    for o in ctx.service.obligations(actor, on=today)
                    if o["status"] == "open" and o["due"] and str(o["project"]) not in terminated
                    and today <= date.fromisoformat(str(o["due"])) <= end),
                   key=lambda d: (d.due, d.unit_name, d.title))
    days = month_ends(today, HISTORY_MONTHS)
    history = overdue_history(ctx, [(str(r["id"]), r["unit_name"]) for r in rows], days)
    palette = {unit: PALETTE[i % len(PALETTE)] for i, unit in enumerate(history)}
    return _render(ctx, "charts.html", per_unit=per_unit, grand=grand,
                   funding=funding_svg(per_unit, ctx.t), series=SERIES,
                   deadlines=deadlines_svg(ahead, today, end, ctx.lang, ctx.t), ahead=ahead,
                   end=end, today=today, history=history, days=days, palette=palette,
                   history_chart=history_svg(history, days, ctx.t))
