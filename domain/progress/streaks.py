"""Daily and weekly streaks, weekly frequency and active days, from the user's active local days."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import numpy as np


def week_index(d: date) -> int:
    """Consecutive number of the ISO week (Monday start) holding d."""
    return (d.toordinal() - 1) // 7  # date(1, 1, 1) is a Monday


def _sorted_unique(values: Iterable[int]) -> np.ndarray:
    """Sorted unique int64 array."""
    return np.unique(np.fromiter(values, dtype=np.int64))


def longest_run(ords: np.ndarray) -> int:
    """Longest run of consecutive integers in a sorted unique array (0 when empty)."""
    if ords.size == 0:
        return 0
    breaks = np.flatnonzero(np.diff(ords) != 1)
    bounds = np.concatenate(([-1], breaks, [ords.size - 1]))
    return int(np.diff(bounds).max())


def run_ending_at(ords: np.ndarray, last: int) -> int:
    """Length of the run of consecutive integers ending at `last` (0 when `last` is absent)."""
    i = int(np.searchsorted(ords, last))
    if i >= ords.size or ords[i] != last:
        return 0
    gaps = np.flatnonzero(np.diff(ords[: i + 1]) != 1)
    return i + 1 if gaps.size == 0 else i - int(gaps[-1])


def current_run(ords: np.ndarray, now: int) -> int:
    """Run ending at the last value <= now, if that value is now or now - 1; else 0."""
    upto = ords[ords <= now]
    if upto.size == 0 or now - int(upto[-1]) > 1:
        return 0
    return run_ending_at(upto, int(upto[-1]))


def run_through(active: Callable[[int], bool], x: int, forward: bool = True) -> int:
    """Length of the run of active integers holding x (only the part up to x when forward=False)."""
    if not active(x):
        return 0
    lo = x
    while active(lo - 1):
        lo -= 1
    hi = x
    while forward and active(hi + 1):
        hi += 1
    return hi - lo + 1


def streak_summary(day_counts: Mapping[date, int], today: date) -> dict[str, Any]:
    """Daily/weekly current and longest streaks, activities per week (last 4 / 12 weeks), active days this month."""
    days = _sorted_unique(d.toordinal() for d in day_counts)
    weeks = _sorted_unique(week_index(d) for d in day_counts)
    last = max((d for d in day_counts if d <= today), default=None)
    return {
        "daily": {
            "current": current_run(days, today.toordinal()),
            "longest": longest_run(days),
            "last_active_day": last.isoformat() if last else None,
        },
        "weekly": {"current": current_run(weeks, week_index(today)), "longest": longest_run(weeks)},
        "activities_per_week": {
            "last_4_weeks": activities_per_week(day_counts, today, 4),
            "last_12_weeks": activities_per_week(day_counts, today, 12),
        },
        "active_days_this_month": sum(1 for d in day_counts if d.replace(day=1) == today.replace(day=1) and d <= today),
    }


def activities_per_week(day_counts: Mapping[date, int], today: date, weeks: int) -> float:
    """Activities in the `weeks` × 7 days ending today, divided by `weeks`."""
    first = today - timedelta(days=7 * weeks - 1)
    n = sum(c for d, c in day_counts.items() if first <= d <= today)
    return round(n / weeks, 4)
