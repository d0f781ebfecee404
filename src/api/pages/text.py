"""Formatting for the pages: ledger times in China Standard Time (北京时间, named on the page),
money in 万元 (ten thousand yuan, the unit budgets are written in) or in 元 on a detail, and the
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


ZONE_NAME = {"zh": "北京时间", "en": "CST, UTC+8"}


def cst_zoned(recorded_at: str | None, lang: str) -> str:
    """A ledger time in Beijing time with the zone named (``2026-03-02 09:02:03 北京时间``)."""
    shown = cst(recorded_at or "")
    if not shown:
        return "—"
    return f"{shown} {ZONE_NAME.get(lang, ZONE_NAME['en'])}"


def wan(fen: object) -> str:
    """Integer fen as 万元 with two decimals, rounded half up (``1234567800`` → ``1,234.57``).

    One 万元 is 1,000,000 fen. Integer arithmetic only (money is never a float here); anything
    that is not an integer shows as ``—``.
    """
    if not isinstance(fen, int) or isinstance(fen, bool):
        return "—"
    sign = "-" if fen < 0 else ""
    hundredths = (abs(fen) + 5_000) // 10_000  # 0.01 万元 = 10,000 fen
    whole, cents = divmod(hundredths, 100)
    return f"{sign}{whole:,}.{cents:02d}"


def wan_plain(fen: object) -> str:
    """As :func:`wan` without thousands separators (for CSV and spreadsheet cells)."""
    return wan(fen).replace(",", "")


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
