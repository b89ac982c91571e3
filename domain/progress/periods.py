"""Calendar periods in the user's timezone: day, ISO week (Monday start), month, year."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

PERIODS: tuple[str, ...] = ("day", "week", "month", "year")
ALIASES: dict[str, str] = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}


def normalise_period(period: str) -> str:
    """'weekly' -> 'week' etc.; ValueError for anything that is not a period."""
    p = ALIASES.get(period, period)
    if p not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    return p


def zone(tz: str) -> ZoneInfo:
    """ZoneInfo for an IANA name (ValueError when unknown)."""
    try:
        return ZoneInfo(tz)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError for malformed keys
        raise ValueError(f"unknown timezone {tz!r}") from exc


def period_start(d: date, period: str) -> date:
    """First day of the period holding d (weeks start on Monday)."""
    p = normalise_period(period)
    if p == "week":
        return d - timedelta(days=d.weekday())
    if p == "month":
        return d.replace(day=1)
    if p == "year":
        return d.replace(month=1, day=1)
    return d


def next_period_start(start: date, period: str) -> date:
    """First day of the period after the one starting at `start`."""
    p = normalise_period(period)
    if p == "week":
        return start + timedelta(days=7)
    if p == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    if p == "year":
        return date(start.year + 1, 1, 1)
    return start + timedelta(days=1)


def period_end(d: date, period: str) -> date:
    """Last day (inclusive) of the period holding d."""
    return next_period_start(period_start(d, period), period) - timedelta(days=1)


def shift_periods(d: date, period: str, n: int) -> date:
    """Start of the period n periods after (n < 0: before) the one holding d."""
    p = normalise_period(period)
    s = period_start(d, p)
    if p in ("day", "week"):
        return s + timedelta(days=n * (7 if p == "week" else 1))
    months = s.year * 12 + s.month - 1 + n * (12 if p == "year" else 1)
    return date(months // 12, months % 12 + 1, 1)


def period_starts(first: date, last: date, period: str) -> list[date]:
    """Starts of every period from the one holding `first` to the one holding `last` (empty if last < first)."""
    out: list[date] = []
    s, stop = period_start(first, period), period_start(last, period)
    while s <= stop:
        out.append(s)
        s = next_period_start(s, period)
    return out
