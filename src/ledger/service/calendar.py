"""The working-day calendar the rules count with: the shipped table plus the years an operator
added (``ledger calendar add``), and today's date in Asia/Shanghai by the ledger clock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime

from ledger.log.entries import format_time
from ledger.log.store import LogStore
from ledger.measures.calendar import HolidayYear, WorkingCalendar, default_calendar, parse_year_file
from ledger.measures.facts import today_in_china

_CALENDAR_TTL = 60.0  # seconds a process uses the holiday years it read


class CalendarBook:
    """Keeps the holiday years in the database and the calendar this process counts with."""

    def __init__(self, log: LogStore, clock: Callable[[], datetime]) -> None:
        self._log = log
        self._clock = clock
        self._calendar: WorkingCalendar | None = None
        self._read_at = 0.0

    @property
    def current(self) -> WorkingCalendar:
        """The working-day calendar: the shipped table plus the years an operator added."""
        # Read again after a minute: `ledger calendar add` runs in another process, and every
        # server process (API and writer) must come to use the year it adds.
        if self._calendar is None or time.monotonic() - self._read_at > _CALENDAR_TTL:
            calendar = default_calendar()
            for text in self._log.calendar_years():
                calendar = calendar.with_year(parse_year_file(text), replace=True)
            self._calendar, self._read_at = calendar, time.monotonic()
        return self._calendar

    def add_year(self, text: str, *, replace: bool = False) -> HolidayYear:
        """``ledger calendar add``: validate a State Council year file and keep it."""
        year = parse_year_file(text)
        self.current.with_year(year, replace=replace)  # refuses an existing year unless asked
        self._log.put_calendar_year(year.year, json.dumps(year.to_json_value(),
                                                          ensure_ascii=False),
                                    format_time(self._clock()))
        self._calendar = None
        return year

    def today(self) -> date:
        """Today in Asia/Shanghai by the ledger clock (the guards' evaluation date)."""
        return today_in_china(self._clock())


__all__ = ["CalendarBook"]
