from datetime import date, timedelta

import numpy as np

from domain.progress import UserStats
from domain.progress.streaks import current_run, longest_run, run_ending_at, streak_summary

from .progress_synth import at, create, delete, of_type, run

D = date(2026, 11, 11)  # Wednesday


def _days(*offsets: int) -> dict[date, int]:
    return {D - timedelta(days=o): 1 for o in offsets}


def test_longest_run_of_consecutive_values():
    assert longest_run(np.array([1, 2, 3, 7, 8, 10])) == 3
    assert longest_run(np.array([], dtype=np.int64)) == 0
    assert run_ending_at(np.array([1, 2, 3, 7, 8]), 8) == 2
    assert run_ending_at(np.array([1, 2, 3]), 5) == 0


def test_daily_streak_is_current_when_last_active_day_is_today_or_yesterday():
    assert current_run(np.array([8, 9, 10]), 10) == 3
    assert current_run(np.array([8, 9, 10]), 11) == 3
    assert current_run(np.array([8, 9, 10]), 12) == 0
    assert current_run(np.array([8, 9, 10, 20]), 10) == 3  # a future day does not break "today"


def test_summary_counts_daily_and_weekly_streaks():
    # Active: today, yesterday, 2 days ago; 10..13 days ago (4-day run); 30 days ago.
    s = streak_summary(_days(0, 1, 2, 10, 11, 12, 13, 30), D)
    assert s["daily"] == {"current": 3, "longest": 4, "last_active_day": "2026-11-11"}
    # Weeks (Monday start): today..2 days ago -> 11-09; 10..13 days ago (10-29..11-01) -> 10-26; 30 days ago -> 10-12.
    weeks = sorted(
        {
            (D - timedelta(days=o)) - timedelta(days=(D - timedelta(days=o)).weekday())
            for o in (0, 1, 2, 10, 11, 12, 13, 30)
        }
    )
    assert weeks == [date(2026, 10, 12), date(2026, 10, 26), date(2026, 11, 9)]
    assert s["weekly"] == {"current": 1, "longest": 1}


def test_weekly_streak_current_through_last_week():
    s = streak_summary({date(2026, 10, 28): 1, date(2026, 11, 4): 2}, D)  # weeks of 10-26 and 11-02
    assert s["weekly"] == {"current": 2, "longest": 2}
    assert streak_summary({date(2026, 10, 28): 1}, D)["weekly"]["current"] == 0


def test_frequency_over_4_and_12_weeks_and_active_days_this_month():
    counts = {D: 2, D - timedelta(days=27): 1, D - timedelta(days=28): 5, D - timedelta(days=83): 3}
    s = streak_summary(counts, D)
    assert s["activities_per_week"] == {"last_4_weeks": 3 / 4, "last_12_weeks": round(11 / 12, 4)}
    assert s["active_days_this_month"] == 1  # 2026-11-11 only (10-15 is October)


def test_late_upload_joins_two_runs_and_emits_streak_event():
    s = UserStats("u", "UTC")
    for d in (8, 9, 11, 12):
        create(s, run(f"a{d}", at(2026, 11, d)))
    assert s.snapshot(date(2026, 11, 12))["streaks"]["daily"]["longest"] == 2
    events = of_type(create(s, run("late", at(2026, 11, 10))), "streak")
    assert events == [
        {
            "type": "streak",
            "period": "daily",
            "length": 5,
            "day": "2026-11-10",
            "longest_ever": True,
            "user_id": "u",
            "activity_id": "late",
        }
    ]
    assert s.snapshot(date(2026, 11, 12))["streaks"]["daily"] == {
        "current": 5,
        "longest": 5,
        "last_active_day": "2026-11-12",
    }


def test_deleting_the_middle_day_splits_the_streak():
    s = UserStats("u", "UTC")
    for d in (8, 9, 10):
        create(s, run(f"a{d}", at(2026, 11, d)))
    delete(s, "a9")
    assert s.snapshot(date(2026, 11, 10))["streaks"]["daily"] == {
        "current": 1,
        "longest": 1,
        "last_active_day": "2026-11-10",
    }


def test_second_activity_on_a_day_emits_no_streak_event():
    s = UserStats("u", "UTC")
    create(s, run("a", at(2026, 11, 9, 8)))
    assert of_type(create(s, run("b", at(2026, 11, 10, 8))), "streak")[0]["length"] == 2
    assert of_type(create(s, run("c", at(2026, 11, 10, 18))), "streak") == []


def test_weekly_streak_event_when_a_new_week_continues_the_run():
    s = UserStats("u", "UTC")
    create(s, run("a", at(2026, 11, 4)))
    ev = of_type(create(s, run("b", at(2026, 11, 13))), "streak")
    assert [(e["period"], e["length"]) for e in ev] == [("weekly", 2)]


def test_2330_local_extends_that_local_days_streak():
    tz = "Europe/Berlin"
    s = UserStats("u", tz)
    create(s, run("a", at(2026, 11, 9, 20, 0, tz)))
    create(s, run("b", at(2026, 11, 10, 23, 30, tz)))  # 22:30 UTC, still the 10th in Berlin
    create(s, run("c", at(2026, 11, 11, 0, 30, tz)))  # 23:30 UTC on the 10th, but the 11th in Berlin
    assert s.snapshot(date(2026, 11, 11))["streaks"]["daily"]["current"] == 3


def test_streak_event_flags_longest_ever_against_out_of_order_history():
    s = UserStats("u", "UTC")
    for d in (5, 4, 3, 2, 1):  # a 5-day run uploaded newest first
        create(s, run(f"a{d}", at(2026, 11, d)))
    create(s, run("b10", at(2026, 11, 10)))
    ev = of_type(create(s, run("b11", at(2026, 11, 11))), "streak")
    assert [(e["period"], e["length"], e["longest_ever"]) for e in ev] == [("daily", 2, False)]
