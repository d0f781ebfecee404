"""Working days and month periods (docs/design.md §4; Civil Code arts. 201–203).

Where the vectors come from: every expected date below was checked by hand against the data of
``chinese-calendar`` 1.11.0 (``chinese_calendar.holidays`` / ``workdays``, which transcribe the
State Council's notices 国办发明电), by counting day by day with ``chinese_calendar.is_workday``
and not counting the start day. The comment on each vector names the arrangement that decides
it. The 2027 year file is a FIXTURE (the 2027 notice is not in the package): it only proves the
operator path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.measures.calendar import (
    CalendarFileError,
    CalendarYearExistsError,
    CalendarYearMissingError,
    HolidayYear,
    WorkingCalendar,
    default_calendar,
    parse_year_file,
)

D = date.fromisoformat


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return default_calendar()


# A hypothetical 2027 file in the operator's format (NOT the published notice): 元旦 on
# Friday 1 January with the weekend, and one Saturday worked in lieu.
YEAR_2027 = {
    "year": 2027,
    "holidays": [
        {"date": "2027-01-01", "name": "元旦"},
        {"date": "2027-01-02", "name": "元旦"},
        {"date": "2027-01-03", "name": "元旦"},
    ],
    "workdays": ["2027-02-20"],
    "source": "国务院办公厅关于2027年部分节假日安排的通知 (test fixture, not the published notice)",
}


def year_file(**changes: object) -> str:
    return json.dumps({**YEAR_2027, **changes}, ensure_ascii=False)


# --- Civil Code art. 201: "N working days after D" does not count D --------------------------

# (start, n, expected, where it comes from)
WORKING_DAY_VECTORS = [
    # Issue vectors. 2025: 国庆节+中秋 10-01..10-08 off, Sat 10-11 worked.
    ("2025-09-30", 5, "2025-10-14", "10-09, 10-10, Sat 10-11 (调休), 10-13, 10-14"),
    ("2025-10-01", 5, "2025-10-14", "start on a holiday: still not counted (find_workday: 10-15)"),
    # 2026: 国庆节 10-01..10-07 off, Sat 10-10 worked.
    ("2026-09-30", 5, "2026-10-13", "10-08, 10-09, Sat 10-10 (调休), 10-12, 10-13"),
    ("2026-12-24", 5, "2026-12-31", "ordinary weeks: 12-25, 12-28, 12-29, 12-30, 12-31"),
    # 2024 春节: 02-10..02-17 off; Sun 02-04 and Sun 02-18 worked; Fri 02-09 (除夕) worked.
    ("2024-02-02", 1, "2024-02-04", "Sun 02-04 is a 春节 adjusted working day"),
    ("2024-02-09", 1, "2024-02-18", "02-10..02-17 off, Sun 02-18 worked"),
    ("2024-02-08", 3, "2024-02-19", "02-09, Sun 02-18, 02-19"),
    # 2024 劳动节: Sun 04-28 and Sat 05-11 worked; 国庆节: Sun 09-29 and Sat 10-12 worked.
    ("2024-04-26", 1, "2024-04-28", "Sun 04-28 is a 劳动节 adjusted working day"),
    ("2024-05-10", 1, "2024-05-11", "Sat 05-11 is a 劳动节 adjusted working day"),
    ("2024-09-27", 10, "2024-10-16", "Art. 26's 10 days: Sun 09-29, 09-30, 10-08..10-12 (Sat), "
                                     "10-14..10-16"),
    # 2025 春节: 01-28..02-04 off; Sun 01-26 and Sat 02-08 worked.
    ("2025-01-24", 1, "2025-01-26", "Sun 01-26 is a 春节 adjusted working day"),
    ("2025-01-27", 1, "2025-02-05", "01-28..02-04 off"),
    ("2025-02-07", 1, "2025-02-08", "Sat 02-08 is a 春节 adjusted working day"),
    ("2025-01-24", 5, "2025-02-07", "Sun 01-26, 01-27, 02-05, 02-06, 02-07"),
    # 2025 劳动节 Sun 04-27 worked; 国庆节 Sun 09-28 worked.
    ("2025-04-25", 1, "2025-04-27", "Sun 04-27 is a 劳动节 adjusted working day"),
    ("2025-09-26", 1, "2025-09-28", "Sun 09-28 is a 国庆节 adjusted working day"),
    # Across the year boundary: 2026 元旦 01-01..01-03 off, Sun 01-04 worked.
    ("2025-12-31", 2, "2026-01-05", "Sun 01-04 (调休), 01-05"),
    ("2026-01-01", 1, "2026-01-04", "Sun 01-04 is a 元旦 adjusted working day"),
    # 2026 春节: 02-15..02-23 off; Sat 02-14 and Sat 02-28 worked.
    ("2026-02-13", 1, "2026-02-14", "Sat 02-14 is a 春节 adjusted working day"),
    ("2026-02-13", 2, "2026-02-24", "Sat 02-14, then 02-15..02-23 off"),
    ("2026-02-27", 1, "2026-02-28", "Sat 02-28 is a 春节 adjusted working day"),
    # 2026 劳动节 05-01..05-05 off, Sat 05-09 worked; 国庆节 Sun 09-20 worked.
    ("2026-04-30", 5, "2026-05-11", "05-06, 05-07, 05-08, Sat 05-09 (调休), 05-11"),
    ("2026-05-08", 1, "2026-05-09", "Sat 05-09 is a 劳动节 adjusted working day"),
    ("2026-09-18", 1, "2026-09-20", "Sat 09-19 rests, Sun 09-20 is worked"),
    ("2026-09-18", 10, "2026-10-09", "Sun 09-20, 09-21..09-24, 09-28..09-30, 10-08, 10-09"),
]


@pytest.mark.parametrize(("start", "n", "expected", "why"), WORKING_DAY_VECTORS)
def test_civil_code_art201_start_day_not_counted(
    cal: WorkingCalendar, start: str, n: int, expected: str, why: str
) -> None:
    assert cal.add_working_days(D(start), n) == D(expected), why
    assert cal.working_days_between(D(start), D(expected)) == n


def test_civil_code_art201_differs_from_find_workday_when_start_is_a_holiday(
    cal: WorkingCalendar,
) -> None:
    # The measured defect that keeps chinese_calendar out of the runtime.
    assert chinese_calendar.find_workday(5, D("2025-10-01")) == D("2025-10-15")
    assert cal.add_working_days(D("2025-10-01"), 5) == D("2025-10-14")


@pytest.mark.parametrize(
    "day",
    ["2024-02-04", "2024-02-18", "2025-01-26", "2025-02-08", "2025-10-11", "2026-01-04",
     "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
)
def test_adjusted_working_weekends_are_working_days(cal: WorkingCalendar, day: str) -> None:
    assert D(day).weekday() >= 5
    assert cal.is_working_day(D(day))
    assert cal.holiday_name(D(day)) is None


def test_statutory_holidays_are_not_working_days_and_are_named(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(D("2025-10-01"))
    assert cal.holiday_name(D("2025-10-01")) == "国庆节"
    assert cal.holiday_name(D("2025-10-06")) == "中秋"
    assert cal.holiday_name(D("2026-02-17")) == "春节"
    assert not cal.is_working_day(D("2026-02-23"))  # a Monday inside the 2026 春节 run
    assert not cal.is_working_day(D("2025-10-12"))  # an ordinary Sunday
    assert cal.is_working_day(D("2024-02-09"))  # 除夕 2024 was a Friday, not a holiday


def test_add_working_days_rejects_n_below_one(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="≥ 1"):
        cal.add_working_days(D("2025-01-02"), 0)


def test_datetimes_are_refused_rather_than_silently_misread(cal: WorkingCalendar) -> None:
    with pytest.raises(TypeError):
        cal.is_working_day(datetime(2025, 10, 1, 9, 0))


def test_working_days_between_is_half_open_and_antisymmetric(cal: WorkingCalendar) -> None:
    assert cal.working_days_between(D("2025-10-01"), D("2025-10-01")) == 0
    assert cal.working_days_between(D("2025-10-01"), D("2025-10-08")) == 0
    assert cal.working_days_between(D("2025-10-08"), D("2025-10-09")) == 1
    assert cal.working_days_between(D("2025-10-14"), D("2025-09-30")) == -5


# --- Civil Code arts. 202–203: periods in months ---------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "raw", "moved", "why"),
    [
        ("2025-01-31", 1, "2025-02-28", "2025-02-28", "art. 202 clamp; Fri 02-28 is worked"),
        ("2024-01-31", 1, "2024-02-29", "2024-02-29", "leap year clamp; Thursday"),
        ("2025-08-31", 3, "2025-11-30", "2025-12-01", "clamp to Sun 11-30, moved to Monday"),
        ("2021-01-31", 1, "2021-02-28", "2021-03-01", "clamp to Sun 02-28, moved to Monday"),
        ("2019-11-30", 3, "2020-02-29", "2020-03-02", "clamp to Sat 02-29, moved to Monday"),
        ("2025-03-31", 2, "2025-05-31", "2025-06-03", "clamp to 端午 05-31..06-02, moved"),
        ("2026-01-31", 1, "2026-02-28", "2026-02-28", "clamp to Sat 02-28, a 春节 working day"),
        ("2025-11-29", 3, "2026-02-28", "2026-02-28", "Sat 02-28 (调休) does not move"),
        ("2025-09-11", 1, "2025-10-11", "2025-10-11", "Sat 10-11 (调休) does not move"),
        ("2025-01-15", 3, "2025-04-15", "2025-04-15", "an ordinary Tuesday"),
    ],
)
def test_civil_code_art202_month_end_and_art203_move(
    cal: WorkingCalendar, start: str, n: int, raw: str, moved: str, why: str
) -> None:
    assert cal.add_months_raw(D(start), n) == D(raw), why
    assert cal.month_period_end(D(start), n) == D(moved), why


@pytest.mark.parametrize(
    ("start", "n", "raw", "moved", "why"),
    [
        # Art. 19 "3个月内": ends on 国庆节, moves past the whole run.
        ("2025-07-01", 3, "2025-10-01", "2025-10-09", "2025 国庆节+中秋 10-01..10-08"),
        ("2024-07-01", 3, "2024-10-01", "2024-10-08", "2024 国庆节 10-01..10-07"),
        # Art. 20 "12至24个月".
        ("2024-10-01", 12, "2025-10-01", "2025-10-09", "2025 国庆节+中秋 10-01..10-08"),
        ("2024-10-03", 24, "2026-10-03", "2026-10-08", "2026 国庆节 10-01..10-07"),
        ("2025-02-17", 12, "2026-02-17", "2026-02-24", "2026 春节 02-15..02-23"),
    ],
)
def test_civil_code_art203_period_ending_on_holiday_moves_to_next_working_day(
    cal: WorkingCalendar, start: str, n: int, raw: str, moved: str, why: str
) -> None:
    assert cal.add_months_raw(D(start), n) == D(raw)
    assert not cal.is_working_day(D(raw)), why
    assert cal.month_period_end(D(start), n) == D(moved), why


def test_add_months_raw_needs_no_calendar_and_goes_backwards() -> None:
    empty_ish = WorkingCalendar(years=(), source="nothing")
    assert empty_ish.add_months_raw(D("2030-03-31"), -1) == D("2030-02-28")
    assert empty_ish.add_months_raw(D("2030-12-15"), 1) == D("2031-01-15")
    assert empty_ish.add_months_raw(D("2030-01-15"), 24) == D("2032-01-15")


def test_month_period_end_rejects_n_below_one(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="≥ 1"):
        cal.month_period_end(D("2025-01-15"), 0)


# --- missing years: pending_calendar, never a crash or a guess --------------------------------


def test_missing_year_part_way_through_a_count(cal: WorkingCalendar) -> None:
    # 12-29, 12-30, 12-31 are counted; the 4th working day needs 2027.
    with pytest.raises(CalendarYearMissingError) as caught:
        cal.add_working_days(D("2026-12-28"), 5)
    assert caught.value.year == 2027
    assert isinstance(caught.value, LedgerError)
    assert "2027" in str(caught.value)


@pytest.mark.parametrize(
    ("call", "year"),
    [
        (lambda c: c.month_period_end(D("2026-10-15"), 3), 2027),
        (lambda c: c.is_working_day(D("2003-12-31")), 2003),
        (lambda c: c.add_working_days(D("2003-12-30"), 1), 2003),
        (lambda c: c.working_days_between(D("2026-12-30"), D("2027-01-04")), 2027),
        (lambda c: c.holiday_year(2030), 2030),
    ],
)
def test_missing_year_is_named(
    cal: WorkingCalendar, call: Callable[[WorkingCalendar], object], year: int
) -> None:
    with pytest.raises(CalendarYearMissingError) as caught:
        call(cal)
    assert caught.value.year == year


def test_count_ending_on_last_known_day_needs_no_next_year(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(D("2026-12-30"), 1) == D("2026-12-31")


# --- the operator adds a year from the State Council's notice --------------------------------


def test_adding_a_2027_year_file_completes_the_count(cal: WorkingCalendar) -> None:
    year = parse_year_file(year_file())
    assert year.year == 2027
    assert year.holidays[0] == (D("2027-01-01"), "元旦")
    assert year.workdays == (D("2027-02-20"),)
    extended = cal.with_year(year)
    assert extended.known_years[-1] == 2027
    assert extended.version == cal.version + 1
    # 12-29, 12-30, 12-31, (01-01..01-03 元旦 in the fixture), 01-04, 01-05.
    assert extended.add_working_days(D("2026-12-28"), 5) == D("2027-01-05")
    assert extended.is_working_day(D("2027-02-20"))
    assert 2027 not in cal.known_years  # with_year returned a new calendar


def test_with_year_replaces_only_when_asked(cal: WorkingCalendar) -> None:
    extended = cal.with_year(parse_year_file(year_file()))
    revised = parse_year_file(year_file(workdays=[]))
    with pytest.raises(CalendarYearExistsError, match="2027"):
        extended.with_year(revised)
    replaced = extended.with_year(revised, replace=True)
    assert not replaced.is_working_day(D("2027-02-20"))
    assert replaced.known_years == extended.known_years


def test_calendar_json_round_trips(cal: WorkingCalendar) -> None:
    extended = cal.with_year(parse_year_file(year_file()))
    text = extended.to_json()
    again = WorkingCalendar.from_json(text)
    assert again == extended
    assert again.to_json() == text
    assert again.digest == extended.digest != cal.digest


def test_every_stored_year_is_a_valid_year_file(cal: WorkingCalendar) -> None:
    stored = json.loads(cal.to_json())
    for entry in stored["years"]:
        assert parse_year_file(json.dumps(entry, ensure_ascii=False)) == cal.holiday_year(
            entry["year"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        (year_file(year="2027"), "expected an integer"),
        (year_file(year=True), "expected an integer"),
        (year_file(year=0), "expected a year"),
        (json.dumps({k: v for k, v in YEAR_2027.items() if k != "source"}), "missing key"),
        (year_file(extra=1), "unknown key"),
        (year_file(source=""), "non-empty"),
        (year_file(holidays=[]), "at least one holiday"),
        (year_file(holidays=[{"date": "2026-12-31", "name": "元旦"}]), "expected a date in 2027"),
        (year_file(workdays=["2028-01-08"]), "expected a date in 2027"),
        (year_file(holidays=[{"date": "2027-1-1", "name": "元旦"}]), "YYYY-MM-DD"),
        (year_file(holidays=[{"date": "20270101", "name": "元旦"}]), "YYYY-MM-DD"),
        (year_file(holidays=[{"date": "2027-02-30", "name": "春节"}]), "real calendar date"),
        (year_file(holidays=[{"date": "2027-01-01", "name": ""}]), "non-empty"),
        (year_file(holidays=[{"date": "2027-01-01"}]), "missing key"),
        (year_file(holidays=[{"date": "2027-01-01", "name": "元旦"}] * 2), "listed twice"),
        (year_file(workdays=["2027-02-20", "2027-02-20"]), "listed twice"),
        (year_file(workdays=["2027-01-02"]), "both as a holiday and as a workday"),
        (year_file(workdays=["2027-02-22"]), "Saturday or Sunday"),  # a Monday
        (year_file(workdays="2027-02-20"), "expected a JSON array"),
        ('{"year": 2027, "year": 2028}', "appears twice"),
    ],
)
def test_malformed_year_files_are_rejected(text: str, message: str) -> None:
    with pytest.raises(CalendarFileError, match=message):
        parse_year_file(text)


def test_nan_is_not_json() -> None:
    with pytest.raises(CalendarFileError, match="plain JSON"):
        parse_year_file('{"year": NaN}')


def test_malformed_calendar_json_is_rejected(cal: WorkingCalendar) -> None:
    good = json.loads(cal.to_json())
    with pytest.raises(CalendarFileError, match="appears twice"):
        WorkingCalendar.from_json(json.dumps({**good, "years": good["years"][:1] * 2}))
    with pytest.raises(CalendarFileError, match="positive integer"):
        WorkingCalendar.from_json(json.dumps({**good, "version": 0}))
    broken = {**good["years"][0], "holidays": [{"date": "x", "name": "元旦"}]}
    with pytest.raises(CalendarFileError, match=r"years\[0\]\.holidays\[0\]\.date"):
        WorkingCalendar.from_json(json.dumps({**good, "years": [broken]}))


def test_holiday_year_validates_on_construction() -> None:
    with pytest.raises(CalendarFileError, match="Saturday or Sunday"):
        HolidayYear(year=2027, holidays=((D("2027-01-01"), "元旦"),),
                    workdays=(D("2027-01-04"),), source="x")


# --- the shipped table against chinese-calendar ---------------------------------------------


def test_shipped_table_covers_2004_to_2026(cal: WorkingCalendar) -> None:
    assert cal.known_years == tuple(range(2004, 2027))
    assert cal.version >= 1
    assert "chinese-calendar 1.11.0" in cal.source


def test_shipped_table_agrees_with_chinese_calendar_every_day(cal: WorkingCalendar) -> None:
    day, last = D("2004-01-01"), D("2026-12-31")
    while day <= last:
        assert cal.is_working_day(day) == chinese_calendar.is_workday(day), day
        package_off, package_name = chinese_calendar.get_holiday_detail(day)
        expected = (chinese_calendar.Holiday(package_name).chinese
                    if package_off and package_name else None)
        assert cal.holiday_name(day) == expected, day
        day += timedelta(days=1)


def test_runtime_does_not_import_chinese_calendar() -> None:
    code = (
        "import sys; from ledger.measures.calendar import default_calendar;"
        " from datetime import date;"
        "c = default_calendar(); assert c.add_working_days(date(2025, 9, 30), 5)"
        " == date(2025, 10, 14);"
        "assert 'chinese_calendar' not in sys.modules, 'runtime imported chinese_calendar'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=D("2005-01-01"), max_value=D("2026-12-31")),
    n=st.integers(min_value=1, max_value=30),
)
def test_civil_code_art201_matches_brute_force_count(start: date, n: int) -> None:
    cal = default_calendar()
    day, remaining = start, n
    try:
        while remaining:
            day += timedelta(days=1)
            if chinese_calendar.is_workday(day):
                remaining -= 1
    except NotImplementedError:
        with pytest.raises(CalendarYearMissingError) as caught:
            cal.add_working_days(start, n)
        assert caught.value.year == 2027
        return
    assert cal.add_working_days(start, n) == day
    assert cal.working_days_between(start, day) == n
