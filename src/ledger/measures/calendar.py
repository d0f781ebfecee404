"""Working days and month periods on the official mainland China calendar (docs/design.md §4).

Deadlines in the Measures are counted in working days (Art. 26: "10 working days") or in months
(Art. 19 "3个月内", Art. 20 "12至24个月"). This module counts both, by the Civil Code:

* **Art. 201**: the day on which a period starts is not counted; counting begins the next day.
  "N working days after D" is therefore the N-th working day strictly after D.
* **Art. 202**: a period in months ends on the corresponding day of the final month, or on that
  month's last day when it has no such day (31 January + 1 month = 28/29 February).
* **Art. 203**: when the last day of a period is a 法定休假日, the period ends on the day after
  the rest ends. Courts read 法定休假日 as every day on which people lawfully do not work: the
  statutory holidays together with the weekends that the State Council has not turned into
  working days (调休). So a period ending on a rest day moves forward to the next working day,
  and a period ending on an adjusted working weekend does not move.

Which days are working days is DATA, not code: ``ledger/measures/data/holidays.json`` holds, per
year, the statutory holidays (with the festival's name) and the weekends worked in lieu. It is
seeded from
the ``chinese-calendar`` package by ``scripts/seed_holidays.py`` (that package covers 2004–2026
and is not imported here), and an operator adds later years from the State Council's notice with
:func:`parse_year_file` and :meth:`WorkingCalendar.with_year`.

A computation that needs a year the table does not hold raises
:class:`CalendarYearMissingError`, even part-way through a count; callers report the deadline as
``pending_calendar`` naming that year. Nothing here guesses a year's holidays.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, cached_property
from importlib import resources
from typing import NoReturn

from ledger.errors import LedgerError
from ledger.log.canonical import JSONValue, canonical_bytes

__all__ = [
    "CalendarFileError",
    "CalendarYearExistsError",
    "CalendarYearMissingError",
    "HolidayYear",
    "WorkingCalendar",
    "default_calendar",
    "parse_year_file",
]

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5  # date.weekday(): Monday is 0, Saturday 5, Sunday 6
_MIN_YEAR = 1900
_MAX_YEAR = 9998  # a count may step into the following year, which must still be a `date`
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # strict: fromisoformat also takes 20250101
_YEAR_KEYS = frozenset({"year", "source", "holidays", "workdays"})
_HOLIDAY_KEYS = frozenset({"date", "name"})
_CALENDAR_KEYS = frozenset({"version", "source", "years"})


# --- errors --------------------------------------------------------------------------------


class CalendarYearMissingError(LedgerError, LookupError):
    """Raised when a computation needs a year that the holiday table does not hold.

    Raised as soon as the count reaches the missing year, so a count that starts in a known year
    and runs into the next one fails too. Callers turn it into the deadline status
    ``pending_calendar`` naming :attr:`year` (docs/design.md §4).
    """

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"the working-day calendar has no holiday data for {year}: add the State Council's "
            f"notice of the {year} holiday arrangements"
        )


class CalendarFileError(LedgerError, ValueError):
    """Raised when a holiday year file or a stored calendar is malformed or inconsistent.

    :attr:`where` locates the problem (``"holidays[2].date"``); :attr:`problem` says what was
    expected and what was found.
    """

    def __init__(self, problem: str, where: str = "") -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"invalid holiday calendar data at {where}: {problem}" if where
                         else f"invalid holiday calendar data: {problem}")


class CalendarYearExistsError(LedgerError, ValueError):
    """Raised when adding a year the calendar already holds without asking to replace it."""

    def __init__(self, year: int, source: str) -> None:
        self.year = year
        super().__init__(
            f"the calendar already holds {year} (from {source}): replacing a year must be "
            "requested explicitly"
        )


# --- one year's arrangements ---------------------------------------------------------------


@dataclass(frozen=True)
class HolidayYear:
    """One year of the State Council's holiday arrangements; constructing one validates it.

    ``holidays`` lists every day off in the arrangement (including the weekend days inside a
    holiday run, as the notice does) with the festival's name; ``workdays`` lists the weekend
    days worked in lieu (调休上班). Both are stored sorted by date. Raises
    :class:`CalendarFileError` if a date lies outside :attr:`year`, a date is listed twice or as
    both a holiday and a workday, a workday is not a Saturday or Sunday, or a text is empty.
    """

    year: int
    holidays: tuple[tuple[date, str], ...]
    workdays: tuple[date, ...]
    source: str

    def __post_init__(self) -> None:
        where = f"year {self.year}"
        if (isinstance(self.year, bool) or not isinstance(self.year, int)
                or not _MIN_YEAR <= self.year <= _MAX_YEAR):
            raise CalendarFileError(
                f"expected a year from {_MIN_YEAR} to {_MAX_YEAR}, got {self.year!r}", "year")
        if not isinstance(self.source, str) or not self.source.strip():
            raise CalendarFileError("expected a non-empty source (the notice it comes from)",
                                    f"{where}.source")
        if not self.holidays:
            raise CalendarFileError("expected at least one holiday, got none", f"{where}.holidays")
        seen: set[date] = set()
        for day, name in self.holidays:
            self._check_day(day, f"{where}.holidays")
            if day in seen:
                raise CalendarFileError(f"{day} is listed twice", f"{where}.holidays")
            seen.add(day)
            if not isinstance(name, str) or not name.strip():
                raise CalendarFileError(f"expected a festival name for {day}, got {name!r}",
                                        f"{where}.holidays")
        worked: set[date] = set()
        for day in self.workdays:
            self._check_day(day, f"{where}.workdays")
            if day in worked:
                raise CalendarFileError(f"{day} is listed twice", f"{where}.workdays")
            worked.add(day)
            if day in seen:
                raise CalendarFileError(f"{day} is listed both as a holiday and as a workday",
                                        f"{where}.workdays")
            if day.weekday() < _SATURDAY:
                raise CalendarFileError(
                    f"expected an adjusted working day on a Saturday or Sunday, got {day} "
                    f"({day:%A}), which is a working day anyway", f"{where}.workdays")
        object.__setattr__(self, "holidays", tuple(sorted(self.holidays)))
        object.__setattr__(self, "workdays", tuple(sorted(self.workdays)))

    def _check_day(self, day: object, where: str) -> None:
        if not isinstance(day, date) or isinstance(day, datetime):
            raise CalendarFileError(f"expected a date, got {day!r}", where)
        if day.year != self.year:
            raise CalendarFileError(f"expected a date in {self.year}, got {day}", where)

    def to_json_value(self) -> dict[str, JSONValue]:
        """Return this year as plain JSON, in the year-file format of :func:`parse_year_file`."""
        return {
            "year": self.year,
            "source": self.source,
            "holidays": [{"date": day.isoformat(), "name": name} for day, name in self.holidays],
            "workdays": [day.isoformat() for day in self.workdays],
        }


# --- parsing -------------------------------------------------------------------------------


def _fail(problem: str, where: str) -> NoReturn:
    raise CalendarFileError(problem, where)


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj: dict[str, object] = {}
    for key, value in pairs:
        if key in obj:
            _fail(f"key {key!r} appears twice", "JSON object")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> NoReturn:
    _fail(f"expected plain JSON, got {name}", "JSON text")


def _load_json(text: str) -> object:
    if not isinstance(text, str):
        _fail(f"expected JSON text (str), got {type(text).__name__}", "JSON text")
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys,
                          parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise CalendarFileError(f"not valid JSON: {exc}", "JSON text") from None


def _object(value: object, keys: frozenset[str], where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        _fail(f"expected a JSON object, got {type(value).__name__}", where)
    if missing := sorted(keys - value.keys()):
        _fail(f"missing key(s) {', '.join(missing)}", where)
    if unknown := sorted(value.keys() - keys):
        _fail(f"unknown key(s) {', '.join(unknown)}; expected only {', '.join(sorted(keys))}",
              where)
    return value


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        _fail(f"expected a JSON array, got {type(value).__name__}", where)
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(f"expected a non-empty string, got {value!r}", where)
    return value


def _integer(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(f"expected an integer, got {value!r}", where)
    return value


def _date(value: object, where: str) -> date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        _fail(f"expected a date as YYYY-MM-DD, got {value!r}", where)
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"expected a real calendar date, got {value!r}", where)


def _year_from_json(value: object, where: str) -> HolidayYear:
    obj = _object(value, _YEAR_KEYS, where)
    year = _integer(obj["year"], f"{where}year")
    holidays: list[tuple[date, str]] = []
    for index, item in enumerate(_list(obj["holidays"], f"{where}holidays")):
        at = f"{where}holidays[{index}]"
        entry = _object(item, _HOLIDAY_KEYS, at)
        holidays.append((_date(entry["date"], f"{at}.date"), _text(entry["name"], f"{at}.name")))
    workdays = tuple(_date(item, f"{where}workdays[{index}]")
                     for index, item in enumerate(_list(obj["workdays"], f"{where}workdays")))
    return HolidayYear(year=year, holidays=tuple(holidays), workdays=workdays,
                       source=_text(obj["source"], f"{where}source"))


def parse_year_file(text: str) -> HolidayYear:
    """Parse and strictly validate one year transcribed from the State Council's notice.

    The format (UTF-8 JSON, no other keys allowed)::

        {"year": 2027,
         "holidays": [{"date": "2027-01-01", "name": "元旦"}, ...],
         "workdays": ["2027-02-20", ...],
         "source": "国务院办公厅关于2027年部分节假日安排的通知 (国办发明电〔2026〕N号)"}

    ``holidays`` lists every day off in the notice's runs ("1月1日至3日放假调休，共3天" gives
    three dates, weekend days included); ``workdays`` lists the Saturdays and Sundays the notice
    says are worked ("上班"). Raises :class:`CalendarFileError` naming the offending field.
    """
    return _year_from_json(_load_json(text), "")


# --- the calendar --------------------------------------------------------------------------


@dataclass(frozen=True)
class _YearIndex:
    holidays: Mapping[date, str]
    workdays: frozenset[date]


@dataclass(frozen=True)
class WorkingCalendar:
    """The holiday table for a set of years, and the deadline arithmetic over it.

    ``version`` is the table's revision: the seeded table is revision 1 and each
    :meth:`with_year` makes the next. ``source`` says where the table as a whole came from; each
    :class:`HolidayYear` names its own notice. Raises :class:`CalendarFileError` if two entries
    describe the same year.
    """

    years: tuple[HolidayYear, ...]
    source: str
    version: int = 1
    _index: Mapping[int, _YearIndex] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise CalendarFileError(f"expected a positive integer, got {self.version!r}",
                                    "version")
        if not isinstance(self.source, str) or not self.source.strip():
            raise CalendarFileError("expected a non-empty source", "source")
        index: dict[int, _YearIndex] = {}
        for entry in self.years:
            if entry.year in index:
                raise CalendarFileError(f"year {entry.year} appears twice", "years")
            index[entry.year] = _YearIndex(dict(entry.holidays), frozenset(entry.workdays))
        object.__setattr__(self, "years", tuple(sorted(self.years, key=lambda y: y.year)))
        object.__setattr__(self, "_index", index)

    # --- lookups ---

    @property
    def known_years(self) -> tuple[int, ...]:
        """The years the table holds, ascending (not necessarily contiguous)."""
        return tuple(entry.year for entry in self.years)

    def holiday_year(self, year: int) -> HolidayYear:
        """Return ``year``'s arrangements; raise :class:`CalendarYearMissingError` if absent."""
        for entry in self.years:
            if entry.year == year:
                return entry
        raise CalendarYearMissingError(year)

    def _year(self, year: int) -> _YearIndex:
        try:
            return self._index[year]
        except KeyError:
            raise CalendarYearMissingError(year) from None

    def is_working_day(self, day: date) -> bool:
        """Say whether ``day`` is a working day: a weekday that is not a statutory holiday, or a
        weekend day the State Council made a working day (调休).

        Raises :class:`CalendarYearMissingError` if ``day``'s year is not in the table.
        """
        year = self._year(_plain_date(day).year)
        if day in year.holidays:
            return False
        return day in year.workdays or day.weekday() < _SATURDAY

    def holiday_name(self, day: date) -> str | None:
        """Return the festival whose arrangement makes ``day`` a day off, or ``None``.

        Raises :class:`CalendarYearMissingError` if ``day``'s year is not in the table.
        """
        return self._year(_plain_date(day).year).holidays.get(day)

    # --- working-day arithmetic (Civil Code art. 201) ---

    def add_working_days(self, start: date, n: int) -> date:
        """Return the ``n``-th working day after ``start`` (``n`` ≥ 1).

        ``start`` itself is not counted, whether or not it is a working day (Civil Code
        art. 201), so 5 working days after 2025-09-30 or after 2025-10-01 is 2025-10-14. Raises
        :class:`CalendarYearMissingError` when the count reaches a year not in the table, and
        ``ValueError`` if ``n`` < 1.
        """
        day = _plain_date(start)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"expected a number of working days ≥ 1, got {n!r}")
        remaining = n
        while remaining:
            day += _ONE_DAY
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Count the working days in the half-open interval (``a``, ``b``].

        So ``working_days_between(d, add_working_days(d, n)) == n``. If ``b`` is before ``a``
        the count is negated (``-working_days_between(b, a)``); equal dates give 0. Raises
        :class:`CalendarYearMissingError` if a day in the interval lies in a missing year.
        """
        a, b = _plain_date(a), _plain_date(b)
        if b < a:
            return -self.working_days_between(b, a)
        count = 0
        day = a
        while day < b:
            day += _ONE_DAY
            count += self.is_working_day(day)
        return count

    def working_day_on_or_after(self, day: date) -> date:
        """Return ``day`` if it is a working day, else the next working day (art. 203's move)."""
        day = _plain_date(day)
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    # --- month periods (Civil Code arts. 201–203) ---

    @staticmethod
    def add_months_raw(start: date, n: int) -> date:
        """Return the day-of-month of ``start``, ``n`` months later, clamped to the month's end.

        This is Civil Code art. 202 alone ("到期月的对应日…没有对应日的，月末日"): 2025-01-31
        + 1 month is 2025-02-28, 2024-01-31 + 1 month is 2024-02-29. It does not move off rest
        days (see :meth:`month_period_end`) and needs no holiday data. ``n`` may be negative.
        """
        start = _plain_date(start)
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"expected an integer number of months, got {n!r}")
        months = start.year * 12 + (start.month - 1) + n
        year, month = divmod(months, 12)
        month += 1
        first_of_next = date(year + month // 12, month % 12 + 1, 1)
        return date(year, month, min(start.day, (first_of_next - _ONE_DAY).day))

    def month_period_end(self, start: date, n: int) -> date:
        """Return the last day of a period of ``n`` months (``n`` ≥ 1) that starts on ``start``.

        Civil Code art. 201: ``start`` is not counted. Art. 202: the period ends on the
        corresponding day of the final month, or its last day (:meth:`add_months_raw`).
        Art. 203: if that day is a 法定休假日 the period ends on the day after the rest ends.
        Following the courts, we read 法定休假日 as any day that is not a working day on the
        official calendar: a statutory holiday, or a Saturday or Sunday that is not an adjusted
        working day (调休). So the end moves forward to the next working day; an end that falls on
        an adjusted working weekend stays. Examples: 3 months from 2025-07-01 ends 2025-10-09
        (1–8 October are the National Day and Mid-autumn holidays); 1 month from 2026-01-31 ends
        on Saturday 2026-02-28, a Spring Festival working day.

        Raises :class:`CalendarYearMissingError` if the end (or the move) reaches a year not in
        the table, and ``ValueError`` if ``n`` < 1.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"expected a number of months ≥ 1, got {n!r}")
        return self.working_day_on_or_after(self.add_months_raw(start, n))

    # --- extending and storing ---

    def with_year(self, year: HolidayYear, *, replace: bool = False) -> WorkingCalendar:
        """Return a new calendar (the next revision) that also holds ``year``.

        A year already in the table is replaced only when ``replace=True``; otherwise
        :class:`CalendarYearExistsError` is raised. This calendar is left unchanged.
        """
        if year.year in self._index:
            if not replace:
                raise CalendarYearExistsError(year.year, self.holiday_year(year.year).source)
            kept = tuple(entry for entry in self.years if entry.year != year.year)
        else:
            kept = self.years
        return WorkingCalendar(years=(*kept, year), source=self.source, version=self.version + 1)

    def to_json_value(self) -> dict[str, JSONValue]:
        """Return the table as plain JSON (the shape :meth:`from_json` reads)."""
        return {
            "version": self.version,
            "source": self.source,
            "years": [entry.to_json_value() for entry in self.years],
        }

    @cached_property
    def digest(self) -> str:
        """SHA-256 (hex) of the table's canonical bytes: which calendar a projection used.

        Computed once per table (it is frozen): every replay names the calendar it used."""
        return hashlib.sha256(canonical_bytes(self.to_json_value())).hexdigest()

    def to_json(self) -> str:
        """Serialise the table as UTF-8-ready JSON text, one holiday per line.

        This is the format of ``ledger/measures/data/holidays.json``; each element of ``years`` is
        in the year-file format of :func:`parse_year_file`.
        The text is deterministic for a given table.
        """

        def dump(value: JSONValue) -> str:
            return json.dumps(value, ensure_ascii=False)

        def block(items: list[str], indent: str) -> str:
            if not items:
                return "[]"
            inner = ",\n".join(f"{indent}  {item}" for item in items)
            return f"[\n{inner}\n{indent}]"

        years = []
        for entry in self.years:
            holidays = [dump({"date": day.isoformat(), "name": name})
                        for day, name in entry.holidays]
            workdays = [dump(day.isoformat()) for day in entry.workdays]
            years.append(
                "{\n"
                f'      "year": {entry.year},\n'
                f'      "source": {dump(entry.source)},\n'
                f'      "holidays": {block(holidays, "      ")},\n'
                f'      "workdays": {block(workdays, "      ")}\n'
                "    }"
            )
        return (
            "{\n"
            f'  "version": {self.version},\n'
            f'  "source": {dump(self.source)},\n'
            f'  "years": {block(years, "  ")}\n'
            "}\n"
        )

    @classmethod
    def from_json(cls, text: str) -> WorkingCalendar:
        """Parse a table written by :meth:`to_json`, validating every year as strictly as
        :func:`parse_year_file`. Raises :class:`CalendarFileError`."""
        obj = _object(_load_json(text), _CALENDAR_KEYS, "calendar")
        years = tuple(_year_from_json(item, f"years[{index}].")
                      for index, item in enumerate(_list(obj["years"], "years")))
        return cls(years=years, source=_text(obj["source"], "source"),
                   version=_integer(obj["version"], "version"))


def _plain_date(value: date) -> date:
    # A datetime is a date subclass but never equals one, so holiday lookups would silently miss.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"expected a datetime.date, got {type(value).__name__}")
    return value


@cache
def default_calendar() -> WorkingCalendar:
    """Return the shipped table (``ledger/measures/data/holidays.json``), loaded once a process."""
    text = (resources.files("ledger.measures").joinpath("data").joinpath("holidays.json")
            .read_text(encoding="utf-8"))
    return WorkingCalendar.from_json(text)
