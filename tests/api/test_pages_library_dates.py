"""The library's rows judged for a date only when shown, filtered or sorted by what depends on it:
the same rows, filters and orders as judging every row at once, with one page's rules judged on
the first view of a day (the demo ledger behind the ASGI app)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pagestest import Demo

from api.pages.library import MONEY, Query, dated, select, totals, view_rows
from api.pages.model import DATED_KEYS, PageReads
from api.services import Actor, LedgerService
from ledger.measures import views
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledgertest import upload_example_documents

OFFICE = Actor("office-li", Role.OFFICE, None)
START = date(2026, 1, 1)


def expected_rows(reads: PageReads, day: date) -> dict[str, dict[str, object]]:
    """Every row judged from scratch on ``day`` (``views.library_row``), by project id."""
    service = reads.service
    state = service.library_state()
    calendar = service.ledger.calendar
    return {pid: views.library_row(facts, state.unit_of(facts), day, calendar)
            for pid, facts in state.projects.items()}


def test_undated_rows_are_library_rows_without_the_dated_keys(demo: Demo) -> None:
    state = LedgerService(demo.ledger).library_state()
    for facts in state.projects.values():
        full = views.library_row(facts, state.unit_of(facts), START, demo.ledger.calendar)
        assert views.undated_library_row(facts, state.unit_of(facts)) == {
            k: v for k, v in full.items() if k not in DATED_KEYS}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=st.lists(st.integers(0, 3 * 365), min_size=1, max_size=4))
def test_rows_filled_on_demand_equal_rows_judged_at_once(demo: Demo, days: list[int]) -> None:
    """Whatever days are viewed, in whatever order, a filled row is the row judged afresh."""
    reads = PageReads(LedgerService(demo.ledger))
    for offset in days:
        day = START + timedelta(days=offset)
        library = reads.library(OFFICE, on=day)
        assert {str(r["id"]): r for r in library.complete()} == expected_rows(reads, day)


def test_the_first_view_of_a_day_judges_one_page_of_rows(demo: Demo) -> None:
    reads = PageReads(LedgerService(demo.ledger))
    library = reads.library(OFFICE, on=START)
    assert not any(DATED_KEYS[0] in row for row in library.rows)  # nothing judged yet
    shown = library.rows[:3]
    for row in shown:
        library.dated(row)
    judged = [row for row in library.rows if DATED_KEYS[0] in row]
    assert judged == shown
    expected = expected_rows(reads, START)
    assert all(row == expected[str(row["id"])] for row in judged)


def test_filters_and_orders_by_dated_columns_match_rows_judged_at_once(demo: Demo) -> None:
    """The library page on a new day: each date-dependent filter and order selects exactly what
    a selection over fully judged rows selects, in the same order."""
    day = START + timedelta(days=400)
    for query in (Query(elig="construction"), Query(elig="not_operation_maintenance"),
                  Query(overdue="yes"), Query(overdue="no"), Query(sort="overdue", dir="desc")):
        fresh = PageReads(LedgerService(demo.ledger))
        lazy = fresh.library(OFFICE, on=day)
        every = view_rows(_Names(fresh), lazy)  # type: ignore[arg-type]
        got = select(dated(lazy, every), query)
        eager = fresh.library(OFFICE, on=day)
        assert eager is lazy  # the kept library: its rows are now judged
        judged = expected_rows(fresh, day)
        assert [str(r["id"]) for r in got] == [
            str(r["id"]) for r in select([{**v, **{k: judged[str(v["id"])][k]
                                                   for k in DATED_KEYS}} for v in every],
                                         query)]
    demo.sign_in("office-li")
    page = demo.client.get("/projects?elig=construction&per=500").text
    assert page.count('class="title-cell"') == sum(
        1 for r in expected_rows(fresh, demo.ledger.today()).values()
        if r["eligible"]["construction"])  # type: ignore[index]


def test_after_a_filing_the_kept_rows_stay_judged_and_the_new_one_is_judged_afresh(
        demo: Demo) -> None:
    reads = PageReads(LedgerService(demo.ledger))
    ledger = demo.ledger
    before = reads.library(OFFICE)
    before.complete()
    upload_example_documents(ledger)
    (opened,) = ledger.submit_many([ledger.prepare(
        "edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"] | {"title": "新项目"})])
    assert not isinstance(opened, Exception)
    after = reads.library(OFFICE)
    assert after is not before
    pending = [r for r in after.rows if DATED_KEYS[0] not in r]
    assert [str(r["id"]) for r in pending] == [str(opened.stream)]
    assert {str(r["id"]): r for r in after.complete()} == expected_rows(reads, ledger.today())
    assert len(after.rows) == len(before.rows) + 1


class _Names:
    """What ``view_rows`` asks of a page context (``Ctx.unit_name``): unit display names."""

    def __init__(self, reads: PageReads) -> None:
        self.reads = reads

    def unit_name(self, unit: str | None) -> str:
        return self.reads.units.name(unit)


_MONEY_ROW = st.fixed_dictionaries({
    "unit": st.sampled_from(["a", "b", "c", None]),
    "m": st.fixed_dictionaries({name: st.one_of(st.none(), st.integers(0, 10**12))
                                for name in MONEY}),
})


@given(st.lists(_MONEY_ROW, max_size=30))
def test_totals_per_unit_and_overall_are_the_sums_of_the_rows(
        given_rows: list[dict[str, Any]]) -> None:
    rows = [{**r, "unit_name": f"单位 {r['unit']}"} for r in given_rows]
    per, grand = totals(rows)
    assert grand["projects"] == len(rows)
    for name in MONEY:
        assert grand[name] == sum(r["m"][name] or 0 for r in rows)
        for entry in per:
            assert entry[name] == sum(r["m"][name] or 0 for r in rows
                                      if r["unit"] == entry["unit"])
    assert sorted(e["projects"] for e in per) == sorted(
        sum(1 for r in rows if r["unit"] == u) for u in {r["unit"] for r in rows})
    assert [e["unit_name"] for e in per] == sorted(e["unit_name"] for e in per)
