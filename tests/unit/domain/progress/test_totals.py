from datetime import date

import pytest

from domain.progress import ActivityFact, UserStats

from .progress_synth import at, create, delete, run, update

TODAY = date(2026, 11, 11)  # a Wednesday; week starts 2026-11-09


def _stats(tz: str = "UTC") -> UserStats:
    return UserStats("u1", tz)


def test_totals_per_sport_and_period_sum_every_metric():
    s = _stats()
    create(
        s,
        ActivityFact(
            "r1", "running", at(2026, 11, 9), distance_m=5000, moving_s=1500, elevation_gain_m=40, calories=350
        ),
    )
    create(
        s,
        ActivityFact(
            "r2", "running", at(2026, 11, 2), distance_m=10000, moving_s=3100, elevation_gain_m=60, calories=700
        ),
    )
    create(s, ActivityFact("w1", "weightlifting", at(2026, 11, 10), moving_s=3600, volume_kg=5200))
    t = s.snapshot(TODAY)["totals"]
    assert t["running"]["week"] == {
        "period_start": "2026-11-09",
        "count": 1,
        "distance_m": 5000.0,
        "moving_s": 1500.0,
        "elevation_gain_m": 40.0,
        "calories": 350.0,
        "volume_kg": 0.0,
        "load": pytest.approx(1500 / 60 * 1.2),
    }
    assert t["running"]["month"]["distance_m"] == 15000.0 and t["running"]["month"]["count"] == 2
    assert t["all"]["week"]["count"] == 2 and t["all"]["week"]["volume_kg"] == 5200.0
    assert t["all"]["lifetime"]["moving_s"] == 1500 + 3100 + 3600
    assert t["weightlifting"]["year"]["period_start"] == "2026-01-01"


def test_ytd_distance_and_lifetime_workouts():
    s = _stats()
    for i, (y, km) in enumerate([(2025, 42.2), (2026, 10.0), (2026, 5.5)]):
        create(s, run(f"a{i}", at(y, 6, 1), km))
    snap = s.snapshot(TODAY)
    assert snap["ytd_distance"] == 15500.0
    assert snap["lifetime_workouts"] == 3


def test_late_upload_from_three_weeks_ago_changes_that_week_only():
    s = _stats()
    create(s, run("now", at(2026, 11, 10), 5))
    create(s, run("late", at(2026, 10, 20), 8))  # week of 2026-10-19
    series = s.progress("distance", "weekly", start=date(2026, 10, 19), end=TODAY)
    assert [p["value"] for p in series] == [8000.0, 0.0, 0.0, 5000.0]
    assert series[0]["period_start"] == "2026-10-19"


def test_edit_moves_distance_and_sport_between_periods():
    s = _stats()
    create(s, run("a", at(2026, 11, 3), 5))
    update(s, run("a", at(2026, 11, 10), 7, sport="cycling"))
    t = s.snapshot(TODAY)["totals"]
    assert "running" not in t
    assert t["cycling"]["week"]["distance_m"] == 7000.0
    assert s.progress("distance", "weekly", start=date(2026, 11, 2), end=TODAY) == [
        {"period_start": "2026-11-02", "value": 0.0},
        {"period_start": "2026-11-09", "value": 7000.0},
    ]


def test_delete_subtracts_exactly_back_to_zero():
    s = _stats()
    for i, km in enumerate([0.1, 0.2, 0.3]):
        create(s, run(f"a{i}", at(2026, 11, 10), km))
    delete(s, "a1")
    assert s.snapshot(TODAY)["totals"]["all"]["week"]["distance_m"] == 400.0  # no 0.1 + 0.2 drift
    delete(s, "a0")
    delete(s, "a2")
    assert s.snapshot(TODAY)["totals"] == {"all": s.snapshot(TODAY)["totals"]["all"]}
    assert s.snapshot(TODAY)["lifetime_workouts"] == 0


def test_local_day_decides_the_week_not_utc():
    s = _stats("America/Los_Angeles")
    create(s, run("sun", at(2026, 11, 8, 23, 30, "America/Los_Angeles")))  # Monday 07:30 UTC
    weeks = s.progress("count", "weekly", start=date(2026, 11, 2), end=date(2026, 11, 9))
    assert weeks == [{"period_start": "2026-11-02", "value": 1}, {"period_start": "2026-11-09", "value": 0}]


def test_new_year_eve_late_evening_counts_in_the_old_year():
    s = _stats("America/Los_Angeles")
    create(s, run("nye", at(2025, 12, 31, 23, 30, "America/Los_Angeles"), 10))
    assert s.snapshot(date(2026, 1, 2))["ytd_distance"] == 0.0
    assert s.snapshot(date(2025, 12, 31))["ytd_distance"] == 10000.0


def test_changing_timezone_regroups_days():
    s = _stats("UTC")
    create(s, run("a", at(2026, 11, 9, 3, 0, "UTC")))  # Monday UTC, Sunday in Los Angeles
    assert s.progress("count", "weekly", start=date(2026, 11, 9), end=date(2026, 11, 9))[0]["value"] == 1
    s.set_timezone("America/Los_Angeles")
    assert s.progress("count", "weekly", start=date(2026, 11, 2), end=date(2026, 11, 9)) == [
        {"period_start": "2026-11-02", "value": 1},
        {"period_start": "2026-11-09", "value": 0},
    ]


def test_progress_is_zero_filled_monthly_and_filters_by_sport():
    s = _stats()
    create(s, run("r", at(2026, 9, 5), 5, elevation_gain_m=50))
    create(s, ActivityFact("c", "cycling", at(2026, 11, 5), distance_m=30000, elevation_gain_m=300, moving_s=3600))
    out = s.progress("elevation", "monthly", start=date(2026, 8, 15), end=date(2026, 11, 1))
    assert [(p["period_start"], p["value"]) for p in out] == [
        ("2026-08-01", 0.0),
        ("2026-09-01", 50.0),
        ("2026-10-01", 0.0),
        ("2026-11-01", 300.0),
    ]
    assert [p["value"] for p in s.progress("duration", "monthly", "cycling", date(2026, 9, 1), date(2026, 11, 1))] == [
        0.0,
        0.0,
        3600.0,
    ]


def test_progress_defaults_to_twelve_periods_ending_today():
    s = _stats()
    with pytest.raises(ValueError):
        s.progress("speed", "weekly")
    assert len(s.progress("count", "monthly", end=TODAY)) == 12
    assert s.progress("count", "monthly", end=TODAY)[0]["period_start"] == "2025-12-01"


def test_load_metric_sums_per_activity_loads_per_period():
    s = UserStats("u", "UTC", {"max_hr": 190, "resting_hr": 50, "sex": "male"})
    create(s, run("a", at(2026, 11, 10), 5, moving_s=1800))  # no HR: 30 min × 1.2
    create(s, run("b", at(2026, 11, 11), 5, moving_s=1200))  # 20 min × 1.2
    assert s.progress("load", "weekly", start=TODAY, end=TODAY)[0]["value"] == pytest.approx(60.0)
