"""Goals: definitions, their periods (ISO week, month, year in the user's timezone) and progress per period.

A goal's periods are the calendar periods overlapping [start_date, end_date], clipped to those dates: a weekly goal
created on a Wednesday counts that week's activities from Wednesday on.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from .periods import next_period_start, period_end, period_start, shift_periods
from .totals import ALL, METRICS, SCALE, PeriodTotals

GOAL_PERIODS: dict[str, str] = {"weekly": "week", "monthly": "month", "yearly": "year"}
GOAL_METRICS: dict[str, str] = {
    "distance": "distance_m",
    "duration": "moving_s",
    "count": "count",
    "elevation": "elevation_gain_m",
}
# Every weekly/monthly/yearly × distance/duration/count/elevation pair, e.g. "weekly_distance".
GOAL_TYPES: tuple[str, ...] = tuple(f"{p}_{m}" for p in GOAL_PERIODS for m in GOAL_METRICS)

Window = tuple[date, date]  # (first day, last day), inclusive
HISTORY_PERIODS = 260  # a goal's read shows at most its last 260 periods (5 years of weeks)


@dataclass(frozen=True)
class Goal:
    """A target per period: goal_type '<weekly|monthly|yearly>_<distance|duration|count|elevation>'."""

    goal_id: str
    goal_type: str
    target_value: float  # metres, seconds, activities or metres of climb
    start_date: date
    end_date: date | None = None
    sport: str | None = None

    def __post_init__(self) -> None:
        """Reject unknown types, non-positive targets and end before start."""
        if self.goal_type not in GOAL_TYPES:
            raise ValueError(f"unknown goal_type {self.goal_type!r}")
        if not self.target_value > 0:
            raise ValueError("target_value must be positive")
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date before start_date")

    @property
    def period(self) -> str:
        """Calendar period: 'week', 'month' or 'year'."""
        return GOAL_PERIODS[self.goal_type.split("_", 1)[0]]

    @property
    def metric(self) -> str:
        """Totals metric the goal counts (distance_m, moving_s, count, elevation_gain_m)."""
        return GOAL_METRICS[self.goal_type.split("_", 1)[1]]

    def window(self, d: date) -> Window | None:
        """The goal's (clipped) period holding d, or None when d is outside the goal."""
        if d < self.start_date or (self.end_date is not None and d > self.end_date):
            return None
        first = max(period_start(d, self.period), self.start_date)
        last = period_end(d, self.period)
        return first, last if self.end_date is None else min(last, self.end_date)

    def windows(self, upto: date, limit: int | None = None) -> list[Window]:
        """The periods of the goal from its start to the one holding `upto` (or its end, if earlier); with `limit`,
        only the last `limit` of them (so a goal's cost does not grow with its age)."""
        stop = upto if self.end_date is None else min(upto, self.end_date)
        d = self.start_date
        if limit is not None and stop >= d:
            with contextlib.suppress(OverflowError, ValueError):  # before year 1: the goal's own start is later
                d = max(d, shift_periods(stop, self.period, -(max(1, limit) - 1)))
        out: list[Window] = []
        while d <= stop:
            w = self.window(d)
            if w is not None:
                out.append(w)
            d = next_period_start(period_start(d, self.period), self.period)
        return out


def goal_to_dict(g: Goal) -> dict[str, Any]:
    """JSON-able goal."""
    d = asdict(g)
    d["start_date"] = g.start_date.isoformat()
    d["end_date"] = g.end_date.isoformat() if g.end_date else None
    return d


def goal_from_dict(d: dict[str, Any]) -> Goal:
    """Inverse of goal_to_dict."""
    end = d.get("end_date")
    return Goal(
        goal_id=str(d["goal_id"]),
        goal_type=d["goal_type"],
        target_value=float(d["target_value"]),
        start_date=date.fromisoformat(str(d["start_date"])),
        end_date=date.fromisoformat(str(end)) if end else None,
        sport=d.get("sport"),
    )


def window_value(goal: Goal, totals: PeriodTotals, w: Window) -> float:
    """The goal's metric summed over a window (whole periods read the period total)."""
    sport = goal.sport or ALL
    if w[0] == period_start(w[0], goal.period) and w[1] == period_end(w[0], goal.period):
        vec = totals.vector(sport, goal.period, w[0])
    else:
        vec = totals.range_vector(sport, w[0], w[1])
    raw = vec[METRICS.index(goal.metric)]
    return raw // SCALE if goal.metric == "count" else raw / SCALE


def period_view(goal: Goal, totals: PeriodTotals, w: Window) -> dict[str, Any]:
    """One period of a goal: bounds, progress, achieved."""
    value = window_value(goal, totals, w)
    return {
        "period_start": w[0].isoformat(),
        "period_end": w[1].isoformat(),
        "progress": value,
        "achieved": value >= goal.target_value,
    }


def goal_view(goal: Goal, totals: PeriodTotals, today: date) -> dict[str, Any]:
    """The goals read shape; 'current' is the period holding today, clamped into the goal's dates."""
    end = goal.end_date or date.max
    cur = goal.window(min(max(today, goal.start_date), end))
    assert cur is not None  # the day is clamped into the goal's dates
    now = period_view(goal, totals, cur)
    return {
        "goal_id": goal.goal_id,
        "goal_type": goal.goal_type,
        "sport": goal.sport,
        "target_value": goal.target_value,
        "period": goal.period,
        "start_date": goal.start_date.isoformat(),
        "end_date": goal.end_date.isoformat() if goal.end_date else None,
        "current_period_progress": now["progress"],
        "current_period_start": now["period_start"],
        "current_period_end": now["period_end"],
        "achieved": now["achieved"],
        "history": [period_view(goal, totals, w) for w in goal.windows(min(today, end), HISTORY_PERIODS)],
    }


def achieved_event(
    goal: Goal, totals: PeriodTotals, d: date, emitted: set[tuple[str, str]], activity_id: str | None = None
) -> dict[str, Any] | None:
    """A goal_achieved event if the goal's period holding d is met and not yet announced (recorded in `emitted`)."""
    w = goal.window(d)
    if w is None:
        return None
    key = (goal.goal_id, w[0].isoformat())
    value = window_value(goal, totals, w)
    if key in emitted or value < goal.target_value:
        return None
    emitted.add(key)
    return {
        "type": "goal_achieved",
        "goal_id": goal.goal_id,
        "goal_type": goal.goal_type,
        "sport": goal.sport,
        "period_start": w[0].isoformat(),
        "period_end": w[1].isoformat(),
        "target_value": goal.target_value,
        "value": value,
        "activity_id": activity_id,
    }
