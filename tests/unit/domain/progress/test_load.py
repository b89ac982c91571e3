import math
from datetime import date, timedelta

import pytest

from domain.progress import ActivityFact, UserStats
from domain.progress.load import activity_load, athlete, training_load

from .progress_synth import at, create, run


def _hr_run(minutes: float, hr: float | None, sport: str = "running") -> ActivityFact:
    return ActivityFact("a", sport, at(2026, 6, 1), moving_s=minutes * 60, hr_avg=hr)


def test_banister_trimp_male_from_hr_reserve():
    # 60 min at HRr = (150-50)/(190-50): 60 × 0.7143 × 0.64 × e^(1.92 × 0.7143) ≈ 108.0954 (by hand)
    who = athlete({"max_hr": 190, "resting_hr": 50, "sex": "male"})
    assert activity_load(_hr_run(60, 150), who) == pytest.approx(108.09536, rel=1e-6)


def test_banister_trimp_female_factor_and_default_resting_hr():
    # 45 min, resting default 60: HRr = 90/130; 45 × HRr × 0.86 × e^(1.67 × HRr) ≈ 85.1376
    who = athlete({"max_hr": 190, "sex": "female"})
    assert activity_load(_hr_run(45, 150), who) == pytest.approx(85.13759, rel=1e-6)


def test_unknown_sex_averages_both_factors():
    who = athlete({"max_hr": 190, "resting_hr": 50})
    assert activity_load(_hr_run(60, 150), who) == pytest.approx(114.79721, rel=1e-6)


def test_max_hr_defaults_to_tanaka_from_birth_year():
    # born 1986, activity in 2026: max 208 - 0.7 × 40 = 180; HRr = 90/120 -> 30 × 0.75 × 0.64 × e^1.44 ≈ 60.778
    who = athlete({"birth_year": 1986, "sex": "male"})
    assert activity_load(_hr_run(30, 150), who) == pytest.approx(60.77802, rel=1e-6)


def test_without_hr_load_is_minutes_times_sport_intensity():
    who = athlete(None)
    assert activity_load(_hr_run(50, None), who) == pytest.approx(50 * 1.2)
    assert activity_load(_hr_run(50, None, "walking"), who) == pytest.approx(50 * 0.5)
    assert activity_load(_hr_run(50, 55.0), who) == pytest.approx(50 * 1.2)  # HR below resting is not usable
    manual = ActivityFact("m", "cycling", at(2026, 6, 1), elapsed_s=3600)  # manual entry: elapsed only
    assert activity_load(manual, who) == pytest.approx(60.0)


def _recursive(daily: dict[date, float], today: date, tau: float) -> float:
    """The textbook day-by-day recursion, independent of the closed form under test."""
    x, d = 0.0, min(daily)
    k = 1 - math.exp(-1 / tau)
    while d <= today:
        x += (daily.get(d, 0.0) - x) * k
        d += timedelta(days=1)
    return x


def test_fitness_fatigue_form_match_the_daily_recursion():
    daily = {date(2026, 5, 1) + timedelta(days=i): 40.0 + 13 * (i % 5) for i in range(0, 90, 2)}
    today = date(2026, 8, 10)
    tl = training_load(daily, today)
    ctl, atl = _recursive(daily, today, 42), _recursive(daily, today, 7)
    assert tl["fitness"] == pytest.approx(ctl, abs=0.006)
    assert tl["fatigue"] == pytest.approx(atl, abs=0.006)
    assert tl["form"] == pytest.approx(ctl - atl, abs=0.006)


def test_training_load_ignores_days_after_today_and_is_zero_when_empty():
    assert training_load({date(2026, 9, 1): 100.0}, date(2026, 8, 1))["fitness"] == 0.0
    assert training_load({}, date(2026, 8, 1)) == {
        "fitness": 0.0,
        "fatigue": 0.0,
        "form": 0.0,
        "load_last_7_days": 0.0,
        "as_of": "2026-08-01",
    }


def test_snapshot_training_load_after_one_session():
    s = UserStats("u", "UTC", {"max_hr": 190, "resting_hr": 50, "sex": "male"})
    create(s, run("a", at(2026, 6, 1), 10, moving_s=3600, hr_avg=150))
    tl = s.snapshot(date(2026, 6, 1))["training_load"]
    load = 108.09536  # as in the first test
    assert tl["fitness"] == pytest.approx(load * (1 - math.exp(-1 / 42)), abs=0.006)
    assert tl["fatigue"] == pytest.approx(load * (1 - math.exp(-1 / 7)), abs=0.006)
    assert tl["load_last_7_days"] == pytest.approx(load, abs=0.006)


def test_profile_change_recomputes_loads():
    s = UserStats("u", "UTC")
    create(s, run("a", at(2026, 6, 1), 10, moving_s=3600, hr_avg=150))
    before = s.progress("load", "weekly", start=date(2026, 6, 1), end=date(2026, 6, 1))[0]["value"]
    s.set_profile({"max_hr": 190, "resting_hr": 50, "sex": "male"})
    after = s.progress("load", "weekly", start=date(2026, 6, 1), end=date(2026, 6, 1))[0]["value"]
    assert before != after and after == pytest.approx(108.095, abs=0.001)
