"""Per-activity insights: new PR, 2nd-best effort, longest this month, week over week, streak extended."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from .facts import ActivityFact
from .periods import period_start
from .records import RecordBook, RecordKey, record_values, unit
from .streaks import run_through, week_index
from .totals import ALL, PeriodTotals

LABELS: dict[str, str] = {
    "longest": "Longest {sport}",
    "biggest_climb": "Biggest {sport} climb",
    "one_rm": "Best {name} 1RM",
    "best_effort": "{name} {sport}",
}


def fmt_value(key: RecordKey, value: float) -> str:
    """Human form of a record value: h:mm:ss / m:ss, km, m, kg, W."""
    u = unit(key)
    if u == "s":
        m, s = divmod(round(value), 60)
        return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"
    if key[0] == "longest":
        return f"{value / 1000:.1f} km"
    return f"{value:.0f} {u}" if u != "kg" else f"{value:.1f} kg"


def label(key: RecordKey) -> str:
    """Record name for messages, e.g. '5k running', 'Longest cycling'."""
    return LABELS[key[0]].format(sport=key[1], name=key[2])


def record_insights(fact: ActivityFact, book: RecordBook) -> list[dict[str, Any]]:
    """new_pr where the activity set a record when done (current or since beaten); else second_best when 2nd of all."""
    out = []
    for key in sorted(record_values(fact)):
        value = record_values(fact)[key]
        base = {"category": key[0], "sport": key[1], "name": key[2], "unit": unit(key), "value": value}
        cur = book.current(key)
        if book.set_in(key, fact.activity_id):
            still = cur is not None and cur[1] == fact.activity_id
            msg = f"New PR: {label(key)} {fmt_value(key, value)}" + ("" if still else " (since beaten)")
            out.append({"kind": "new_pr", **base, "current": still, "message": msg})
        elif book.rank(key, fact.activity_id) == 2:
            msg = f"2nd best {label(key)}: {fmt_value(key, value)}"
            out.append({"kind": "second_best", **base, "message": msg})
    return out


def longest_this_month(fact: ActivityFact, same_month: Iterable[ActivityFact]) -> list[dict[str, Any]]:
    """longest_this_month when the activity has the longest distance of its sport in its local month (≥ 2 there)."""
    peers = [f for f in same_month if f.distance_m > 0]
    if fact.distance_m <= 0 or len(peers) < 2:
        return []
    best = min(peers, key=lambda f: (-f.distance_m, f.sort_key()))
    if best.activity_id != fact.activity_id:
        return []
    return [
        {
            "kind": "longest_this_month",
            "sport": fact.sport,
            "value": fact.distance_m,
            "unit": "m",
            "message": f"Longest {fact.sport} this month: {fact.distance_m / 1000:.1f} km",
        }
    ]


def week_over_week(fact: ActivityFact, day: date, totals: PeriodTotals) -> list[dict[str, Any]]:
    """week_over_week: this ISO week's distance in the sport against last week's (both must be non-zero)."""
    week = period_start(day, "week")
    this = totals.metric(fact.sport, "week", week, "distance_m")
    last = totals.metric(fact.sport, "week", week - timedelta(days=7), "distance_m")
    if fact.distance_m <= 0 or this <= 0 or last <= 0:
        return []
    pct = round((this / last - 1.0) * 100)
    word = "more" if pct >= 0 else "less"
    return [
        {
            "kind": "week_over_week",
            "sport": fact.sport,
            "metric": "distance",
            "percent": pct,
            "this_week": this,
            "last_week": last,
            "message": f"{abs(pct)} % {word} distance than last week",
        }
    ]


def streak_extended(day: date, first_of_day: bool, first_of_week: bool, totals: PeriodTotals) -> list[dict[str, Any]]:
    """streak_extended when the activity opened a day (or week) that continues a run of ≥ 2 active days (weeks)."""
    out = []
    has_day = lambda o: totals.has(ALL, "day", date.fromordinal(o))  # noqa: E731
    has_week = lambda w: totals.has(ALL, "week", date.fromordinal(w * 7 + 1))  # noqa: E731
    days = run_through(has_day, day.toordinal(), forward=False) if first_of_day else 0
    weeks = run_through(has_week, week_index(day), forward=False) if first_of_week else 0
    if days >= 2:
        out.append(
            {"kind": "streak_extended", "period": "daily", "length": days, "message": f"Streak extended to {days} days"}
        )
    if weeks >= 2:
        out.append(
            {
                "kind": "streak_extended",
                "period": "weekly",
                "length": weeks,
                "message": f"Weekly streak extended to {weeks} weeks",
            }
        )
    return out
