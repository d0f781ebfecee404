"""项目库 (Art. 12) and exact replay: search, filters, sortable columns, pages, totals per unit,
and CSV / Excel exports of exactly the filtered view.

Money is shown in 万元 with two decimals, construction and O&M money apart: the approved budget
(批复金额) is construction money only, so adding O&M money to "arranged" and "disbursed" would
make a project look overspent. The table is paged (100 rows by default) so that a library of
ten thousand projects stays fast: rows are computed once per project state (see
:mod:`api.pages.model`), and only the shown page is rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from markupsafe import Markup

from api.pages import i18n
from api.pages.exports import Column, csv_response, xlsx_response
from api.pages.model import DATED_KEYS, Library
from api.pages.routes import (
    Ctx,
    PageRoute,
    _ctx,
    _day,
    _env,
    _fileable,
    _known_at,
    _project_id,
    _Redirect,
    _render,
)
from api.pages.text import local_input, wan, wan_plain

PAGE_SIZE = 100
PAGE_SIZES = {"100": 100, "500": 500}
ELIGIBILITY = ("construction", "not_construction", "operation_maintenance",
               "not_operation_maintenance")
MONEY = ("approved_budget_fen", "arranged_c_fen", "arranged_om_fen", "contracted_fen",
         "disbursed_c_fen", "disbursed_om_fen")

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class Query:
    """What the reader asked of the library: search, filters, order and page."""

    q: str = ""
    unit: str = ""
    stage: str = ""
    year: str = ""
    elig: str = ""
    overdue: str = ""
    sort: str = ""
    dir: str = ""
    per: str = ""

    def params(self) -> dict[str, str]:
        """The non-empty parameters (for links that keep the view)."""
        return {k: v for k, v in self.__dict__.items() if v}

    def link(self, path: str = "/projects", **changes: str) -> str:
        """A link to this view with some parameters changed."""
        params = {**self.params(), **changes}
        params = {k: v for k, v in params.items() if v}
        return path + ("?" + urlencode(params) if params else "")


def _money(row: dict[str, Any], money: dict[str, int]) -> dict[str, Any]:
    return {**money, "approved_budget_fen": row["approved_budget_fen"],
            "contracted_fen": row["contracted_fen"]}


def _text(value: object) -> str:
    return "" if value is None else str(value)


_SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "title": lambda r: _text(r["title"]),
    "unit": lambda r: r["unit_name"],
    "kind": lambda r: _text(r["kind"]),
    "stage": lambda r: _text(r["stage"]),
    "year": lambda r: int(r["fiscal_year"] or 0),
    "approved": lambda r: int(r["approved_budget_fen"] or 0),
    "arranged_c": lambda r: r["m"]["arranged_c_fen"],
    "arranged_om": lambda r: r["m"]["arranged_om_fen"],
    "contracted": lambda r: int(r["contracted_fen"] or 0),
    "disbursed_c": lambda r: r["m"]["disbursed_c_fen"],
    "disbursed_om": lambda r: r["m"]["disbursed_om_fen"],
    "overdue": lambda r: int(r["overdue"] or 0),
    "entries": lambda r: int(r["entries"] or 0),
}
"""Sortable columns: the ``sort`` parameter → the key of a view row."""


_VIEWS_KEPT = 64  # derived views kept per library (distinct searches, filters and orders)


def view_rows(ctx: Ctx, library: Library) -> list[dict[str, Any]]:
    """Library rows with what the pages add: the unit's name and the money kept apart (once
    per library and set of unit names)."""
    key = ("rows", tuple((u, ctx.unit_name(u)) for u in library.units))
    kept: list[dict[str, Any]] | None = library.views.get(key)
    if kept is None:
        previous = library.views.pop("previous", None)
        earlier = previous.views.get(key) if previous is not None else None
        reuse = {id(v["row"]): v for v in earlier} if earlier else {}
        kept = []
        for row, fresh in _view_rows(ctx, library, skip=set(reuse)):
            view = fresh if fresh is not None else reuse[id(row)]
            kept.append(view)
        library.views[key] = kept
    return kept


def prepared(ctx: Ctx, library: Library, query: Query) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """The rows a query selects, in order, with their totals (once per library, names and
    query; the page number does not matter)."""
    names = tuple((u, ctx.unit_name(u)) for u in library.units)
    key = ("select", names, query.q, query.unit, query.stage, query.year, query.elig,
           query.overdue, query.sort, query.dir)
    kept: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]] | None = (
        library.views.get(key))
    if kept is None:
        every = view_rows(ctx, library)
        rows = select(dated(library, every) if _needs_dates(query) else every, query)
        kept = (rows, *totals(rows))
        if len(library.views) > _VIEWS_KEPT:
            library.views.clear()
        library.views[key] = kept
    return kept


def dated(library: Library, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The views with their rows' dated part (eligibility, overdue count, flags) filled in:
    only what is shown, filtered or sorted by it, so that the first view of a day judges the
    rules for one page of projects rather than for every project (``Library.dated``)."""
    for view in views:
        if DATED_KEYS[0] not in view:
            row = library.dated(view["row"])
            view.update({k: row[k] for k in DATED_KEYS})
    return views


def _needs_dates(query: Query) -> bool:
    """Whether selecting or ordering a view reads the rows' dated part."""
    return query.elig in ELIGIBILITY or query.overdue in ("yes", "no") or query.sort == "overdue"


def _view_rows(ctx: Ctx, library: Library, *, skip: set[int] | frozenset[int] = frozenset()
               ) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(row, its view) per library row; rows whose id is in ``skip`` get None (reused)."""
    names: dict[str | None, str] = {}
    out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for row in library.rows:
        if id(row) in skip:
            out.append((row, None))
            continue
        unit = str(row["unit"]) if row["unit"] else None
        if unit not in names:
            names[unit] = ctx.unit_name(unit)
        # A literal (not a comprehension over key names): made for every row on a new day.
        out.append((row, {"row": row, "unit_name": names[unit],
                          "m": _money(row, library.money.get(str(row["id"]), {})),
                          "id": row["id"], "title": row["title"], "unit": row["unit"],
                          "kind": row["kind"], "stage": row["stage"],
                          "fiscal_year": row["fiscal_year"],
                          "approved_budget_fen": row["approved_budget_fen"],
                          "contracted_fen": row["contracted_fen"], "entries": row["entries"]}))
    return out


def select(rows: Iterable[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    """The rows that match the search and the filters, in the asked order."""
    needle = query.q.strip().casefold()
    year = int(query.year) if query.year.isdigit() else None
    out = []
    for r in rows:
        if needle and not (needle in _text(r["title"]).casefold()
                           or needle in r["unit_name"].casefold()
                           or needle == _text(r["unit"]).casefold()
                           or _text(r["id"]).startswith(needle)):
            continue
        if query.unit and r["unit"] != query.unit:
            continue
        if query.stage and r["stage"] != query.stage:
            continue
        if year is not None and r["fiscal_year"] != year:
            continue
        if query.elig in ELIGIBILITY:
            kind = query.elig.removeprefix("not_")
            if bool(r["eligible"][kind]) == query.elig.startswith("not_"):
                continue
        if query.overdue == "yes" and not r["overdue"]:
            continue
        if query.overdue == "no" and r["overdue"]:
            continue
        out.append(r)
    out.sort(key=lambda r: (r["unit_name"], -int(r["fiscal_year"] or 0), _text(r["title"]),
                            _text(r["id"])))
    key = _SORTS.get(query.sort)
    if key is not None:
        out.sort(key=key, reverse=query.dir == "desc")
    return out


def totals(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Sums per unit (by name) and overall, of every money column."""
    # Grouped first, then summed a column at a time: a library of 10,000 rows is totalled
    # after every filing, and a dict made per row would cost more than the sums.
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        members = groups.get(_text(r["unit"]))
        if members is None:
            groups[_text(r["unit"])] = [r]
        else:
            members.append(r)
    per = []
    for members in groups.values():
        money = [r["m"] for r in members]
        per.append({"unit": members[0]["unit"], "unit_name": members[0]["unit_name"],
                    "projects": len(members),
                    **{name: sum(m.get(name) or 0 for m in money) for name in MONEY}})
    grand: dict[str, Any] = {"unit": None, "unit_name": "", "projects": len(rows),
                             **{name: sum(e[name] for e in per) for name in MONEY}}
    return sorted(per, key=lambda e: str(e["unit_name"])), grand


def row_html(ctx: Ctx, suffix: str) -> Callable[[dict[str, Any]], Markup]:
    """Render one library row (``_row.html``), once per row object, language, name and link."""
    template = _env.get_template("_row.html")
    t, lang = ctx.t, ctx.lang

    def render(view: dict[str, Any]) -> Markup:
        row = view["row"]
        key = (id(row), lang, suffix, view["unit_name"])
        found = ctx.reads.fragments.get(key)
        if found is not None and found[0] is row:  # the same row object: the same HTML
            html: Markup = found[1]
            return html
        # The output of an autoescaping template is safe HTML.
        html = Markup(template.render(  # noqa: S704
            r=view, m=view["m"], t=t, lang=lang, row_suffix=suffix, wan=wan))
        ctx.reads.fragments.put(key, (row, html))
        return html

    return render


def read_query(request: Request) -> Query:
    """The library view a request asks for (unknown values are ignored)."""
    given = request.query_params

    def get(name: str, limit: int = 64) -> str:
        return (given.get(name) or "")[:limit]

    sort, per = get("sort"), get("per")
    return Query(q=get("q", 100), unit=get("unit"), stage=get("stage"), year=get("year"),
                 elig=get("elig"), overdue=get("overdue"), sort=sort if sort in _SORTS else "",
                 dir="desc" if get("dir") == "desc" else "",
                 per=per if per == "all" or per in PAGE_SIZES else "")


COLUMNS = (("title", "col.title"), ("unit", "col.unit"), ("kind", "col.kind"),
           ("stage", "col.stage"), ("year", "col.fiscal_year"), ("approved", "col.approved"),
           ("arranged_c", "col.arranged_c"), ("arranged_om", "col.arranged_om"),
           ("contracted", "col.contracted"), ("disbursed_c", "col.disbursed_c"),
           ("disbursed_om", "col.disbursed_om"))
"""The table's sortable columns, in order (parameter, heading)."""


@router.get("/projects")
def library_page(request: Request, page: str | None = None) -> Response:
    """项目库 (Art. 12): search, filters, sortable columns, totals per unit, exports."""
    ctx = _ctx(request)
    actor = ctx.need_actor()
    library = ctx.reads.library(actor)
    query = read_query(request)
    rows, unit_totals, grand = prepared(ctx, library, query)
    size = max(len(rows), 1) if query.per == "all" else PAGE_SIZES.get(query.per, PAGE_SIZE)
    pages = max(1, -(-len(rows) // size))
    number = min(max(int(page) if page and page.isdigit() else 1, 1), pages)
    shown = dated(library, rows[(number - 1) * size: number * size])
    years = library.views.get("years")
    if years is None:
        years = sorted({r["fiscal_year"] for r in library.rows
                        if isinstance(r["fiscal_year"], int) and r["fiscal_year"]},
                       reverse=True)
        library.views["years"] = years
    units = sorted(((u, ctx.unit_name(u)) for u in library.units), key=lambda p: p[1])

    def sort_link(column: str) -> str:
        flip = "desc" if query.sort == column and query.dir != "desc" else ""
        return query.link(sort=column, dir=flip, page="")

    return _render(ctx, "library.html", rows=shown, count=len(rows), totals=unit_totals,
                   grand=grand, units=units, years=years, chosen=query.__dict__,
                   query=query, columns=COLUMNS, sort_link=sort_link,
                   eligibility=ELIGIBILITY, page=number, pages=pages,
                   page_link=lambda n: query.link(page=str(n)),
                   csv_link=query.link("/library.csv"), xlsx_link=query.link("/library.xlsx"),
                   row_html=row_html(ctx, ""), on=library.on,
                   fileable=_fileable(actor, opens=True))


def export_columns(ctx: Ctx) -> list[Column]:
    """The export's columns: the table's, with money in 万元 (two decimals)."""
    t, lang = ctx.t, ctx.lang
    unit_label = t("yuan_wan")

    def money(key: str) -> Callable[[dict[str, Any]], object]:
        return lambda r: wan_plain(r["m"][key]) if isinstance(r["m"][key], int) else ""

    def elig(kind: str) -> Callable[[dict[str, Any]], object]:
        return lambda r: t("yes") if r["eligible"][kind] else t("no")

    return [
        Column(t("project.id"), lambda r: r["id"]),
        Column(t("col.title"), lambda r: r["title"]),
        Column(t("col.unit"), lambda r: r["unit_name"]),
        Column(t("col.kind"), lambda r: i18n.label(i18n.KINDS, r["kind"], lang)),
        Column(t("col.stage"), lambda r: i18n.label(i18n.STAGES, r["stage"], lang)),
        Column(t("col.fiscal_year"), lambda r: r["fiscal_year"]),
        Column(f"{t('col.approved')} ({unit_label})", money("approved_budget_fen"), True),
        Column(f"{t('col.arranged_c')} ({unit_label})", money("arranged_c_fen"), True),
        Column(f"{t('col.arranged_om')} ({unit_label})", money("arranged_om_fen"), True),
        Column(f"{t('col.contracted')} ({unit_label})", money("contracted_fen"), True),
        Column(f"{t('col.disbursed_c')} ({unit_label})", money("disbursed_c_fen"), True),
        Column(f"{t('col.disbursed_om')} ({unit_label})", money("disbursed_om_fen"), True),
        Column(t("elig.construction_short"), elig("construction")),
        Column(t("elig.operation_maintenance_short"), elig("operation_maintenance")),
        Column(t("col.overdue"), lambda r: r["overdue"]),
        Column(t("col.flags"), lambda r: "、".join(
            i18n.label(i18n.RULES, f, lang) for f in r["flags"])),
    ]


def _export_rows(request: Request) -> tuple[Ctx, list[dict[str, Any]]]:
    ctx = _ctx(request)
    actor = ctx.need_actor()
    library = ctx.reads.library(actor)
    return ctx, dated(library, prepared(ctx, library, read_query(request))[0])


@router.get("/library.csv")
def library_csv(request: Request) -> Response:
    """The filtered library (every page of it) as CSV (UTF-8 with BOM: Excel reads it).

    Takes the library page's parameters: ``q``, ``unit``, ``stage``, ``year``, ``elig``,
    ``overdue``, ``sort``, ``dir``.
    """
    ctx, rows = _export_rows(request)
    return csv_response(export_columns(ctx), rows, "项目库.csv")


@router.get("/library.xlsx")
def library_xlsx(request: Request) -> Response:
    """The filtered library (every page of it) as an Excel workbook (as ``/library.csv``)."""
    ctx, rows = _export_rows(request)
    return xlsx_response(export_columns(ctx), rows, "项目库.xlsx", ctx.t("library.title"))


# --- replay ----------------------------------------------------------------------------------


@router.get("/replay")
def replay_page(request: Request, as_known_at: str | None = None, on: str | None = None,
                project: str | None = None) -> Response:
    """回放: the project or the whole library exactly as known at T, evaluated on D."""
    ctx = _ctx(request)
    actor = ctx.need_actor()
    current = ctx.reads.library(actor)
    known = _known_at(ctx, as_known_at)
    day = _day(ctx, on)
    if known is not None and project:
        query = {"as_known_at": known, **({"on": day.isoformat()} if day else {})}
        raise _Redirect(f"/projects/{_project_id(project)}?{urlencode(query)}")
    result = None
    library_hash = None
    rows: list[dict[str, Any]] = []
    if known is not None:
        result = ctx.reads.library(actor, on=day, as_known_at=known)
        library_hash = ctx.reads.library_hash(result)
        rows = dated(result, select(view_rows(ctx, result), Query()))
    titles = sorted((str(r["title"]), str(r["id"])) for r in current.rows)
    return _render(ctx, "replay.html", projects=titles, chosen_project=project or "",
                   known_local=local_input(known) if known else local_input(
                       current.last_recorded_at)[:16],
                   on_value=(day or ctx.service.ledger.today()).isoformat(), result=result,
                   rows=rows, known=known, columns=COLUMNS, sort_link=None, query=Query(),
                   row_html=row_html(ctx, "?" + urlencode(
                       {"as_known_at": known, "on": result.on.isoformat()}) if result else ""),
                   library_hash=library_hash)
