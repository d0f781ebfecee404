"""Formatting for the pages: ledger times in China Standard Time, money in yuan, and the
parsing of the replay form's 'as known at' (a local date-time in Beijing time)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from ledger.log.entries import format_time

CST = timezone(timedelta(hours=8), "CST")


def cst(recorded_at: str) -> str:
    """``2026-03-02T01:02:03.000004Z`` → ``2026-03-02 09:02:03`` (Beijing time)."""
    if not recorded_at:
        return ""
    try:
        moment = datetime.strptime(recorded_at[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return recorded_at
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def local_input(recorded_at: str | None) -> str:
    """A ledger time as the value of a ``datetime-local`` input (Beijing time, seconds)."""
    return cst(recorded_at or "").replace(" ", "T")


def parse_known_at(text: str) -> str:
    """A replay form's 'as known at' as a ledger time (RFC 3339 UTC, microseconds).

    Accepts ``YYYY-MM-DDTHH:MM[:SS]`` (Beijing time, as a ``datetime-local`` input sends it)
    or an RFC 3339 time with an offset. Raises ``ValueError`` otherwise.
    """
    text = text.strip()
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CST)
    return format_time(moment.astimezone(UTC))


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` (raises ``ValueError``)."""
    return date.fromisoformat(text.strip())


def duration(seconds: float, lang: str) -> str:
    """A time span for people (``3 分钟`` / ``3 min``)."""
    seconds = max(0, int(seconds))
    units = ((86400, "天", "d"), (3600, "小时", "h"), (60, "分钟", "min"), (1, "秒", "s"))
    for size, zh, en in units:
        if seconds >= size or size == 1:
            value = seconds // size
            return f"{value} {zh}" if lang == "zh" else f"{value} {en}"
    return ""  # pragma: no cover - the loop always returns


def seconds_between(earlier: str | None, later: str | None) -> float | None:
    """Seconds from one ledger time to another (None if either is missing)."""
    if not earlier or not later:
        return None
    fmt = "%Y-%m-%dT%H:%M:%S"
    return (datetime.strptime(later[:19], fmt) - datetime.strptime(earlier[:19], fmt)
            ).total_seconds()
