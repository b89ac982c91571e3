from datetime import date

import pytest

from domain.progress import GOAL_TYPES, ActivityFact, Goal, UserStats

from .progress_synth import at, create, delete, of_type, run, update

REQUIRED = {
    "weekly_distance",
    "monthly_distance",
    "yearly_distance",
    "weekly_duration",
    "weekly_count",
    "monthly_count",
    "weekly_elevation",
}


def _weekly(target_km: float = 10, **kw) -> Goal:
    return Goal("g1", "weekly_distance", target_km * 1000, kw.pop("start", date(2026, 11, 2)), **kw)


def test_required_goal_types_exist_and_bad_goals_are_rejected():
    assert set(GOAL_TYPES) >= REQUIRED
    with pytest.raises(ValueError):
        Goal("g", "daily_distance", 1, date(2026, 1, 1))
    with pytest.raises(ValueError):
        Goal("g", "weekly_distance", 0, date(2026, 1, 1))
    with pytest.raises(ValueError):
        Goal("g", "weekly_distance", 1, date(2026, 1, 2), date(2026, 1, 1))


def test_goal_achieved_once_per_period():
    s = UserStats("u")
    s.set_goals([_weekly(10)])
    assert of_type(create(s, run("a", at(2026, 11, 9), 6)), "goal_achieved") == []
    ev = of_type(create(s, run("b", at(2026, 11, 10), 5)), "goal_achieved")
    assert ev == [
        {
            "type": "goal_achieved",
            "goal_id": "g1",
            "goal_type": "weekly_distance",
            "sport": None,
            "period_start": "2026-11-09",
            "period_end": "2026-11-15",
            "target_value": 10000.0,
            "value": 11000.0,
            "activity_id": "b",
            "user_id": "u",
        }
    ]
    assert of_type(create(s, run("c", at(2026, 11, 11), 5)), "goal_achieved") == []


def test_delete_below_target_then_reaching_it_again_does_not_reannounce():
    s = UserStats("u")
    s.set_goals([_weekly(10)])
    create(s, run("a", at(2026, 11, 9), 11))
    delete(s, "a")
    assert s.goals_view(date(2026, 11, 11))[0]["achieved"] is False
    assert of_type(create(s, run("b", at(2026, 11, 10), 12)), "goal_achieved") == []
    assert s.goals_view(date(2026, 11, 11))[0]["achieved"] is True


def test_late_upload_completes_a_past_period_and_is_announced():
    s = UserStats("u")
    s.set_goals([_weekly(10, start=date(2026, 10, 1))])
    create(s, run("a", at(2026, 10, 19), 6))
    create(s, run("now", at(2026, 11, 10), 3))
    ev = of_type(create(s, run("late", at(2026, 10, 21), 5)), "goal_achieved")
    assert [(e["period_start"], e["value"]) for e in ev] == [("2026-10-19", 11000.0)]


def test_edit_that_completes_a_period_is_announced():
    s = UserStats("u")
    s.set_goals([_weekly(10)])
    create(s, run("a", at(2026, 11, 9), 8))
    assert of_type(update(s, run("a", at(2026, 11, 9), 10)), "goal_achieved")[0]["value"] == 10000.0


def test_sport_filter_counts_only_that_sport():
    s = UserStats("u")
    s.set_goals([Goal("g", "weekly_count", 2, date(2026, 11, 1), sport="cycling")])
    create(s, run("r1", at(2026, 11, 9)))
    create(s, run("r2", at(2026, 11, 10)))
    assert s.goals_view(date(2026, 11, 11))[0]["current_period_progress"] == 0
    create(s, ActivityFact("c1", "cycling", at(2026, 11, 10)))
    ev = create(s, ActivityFact("c2", "cycling", at(2026, 11, 11)))
    assert of_type(ev, "goal_achieved")[0]["value"] == 2


def test_first_period_is_clipped_to_the_goal_start():
    s = UserStats("u")
    create(s, run("mon", at(2026, 11, 9), 20))  # before the goal starts (Wednesday)
    create(s, run("wed", at(2026, 11, 11), 4))
    events = s.set_goals([_weekly(10, start=date(2026, 11, 11))])
    assert events == []
    v = s.goals_view(date(2026, 11, 12))[0]
    assert (v["current_period_start"], v["current_period_end"], v["current_period_progress"]) == (
        "2026-11-11",
        "2026-11-15",
        4000.0,
    )


def test_set_goals_announces_periods_already_met():
    s = UserStats("u")
    create(s, run("a", at(2026, 1, 10), 60))
    create(s, run("b", at(2026, 3, 10), 20))
    ev = s.set_goals([Goal("m", "monthly_distance", 50000, date(2026, 1, 1))])
    assert [(e["goal_id"], e["period_start"], e["activity_id"]) for e in ev] == [("m", "2026-01-01", None)]
    assert s.set_goals([Goal("m", "monthly_distance", 50000, date(2026, 1, 1))]) == []


def test_goals_view_read_shape_and_history():
    s = UserStats("u")
    s.set_goals([Goal("y", "weekly_elevation", 500, date(2026, 10, 26), date(2026, 11, 15))])
    create(s, run("a", at(2026, 10, 27), 5, elevation_gain_m=600))
    create(s, run("b", at(2026, 11, 10), 5, elevation_gain_m=200))
    v = s.goals_view(date(2026, 11, 11))[0]
    assert {k: v[k] for k in v if k != "history"} == {
        "goal_id": "y",
        "goal_type": "weekly_elevation",
        "sport": None,
        "target_value": 500,
        "period": "week",
        "start_date": "2026-10-26",
        "end_date": "2026-11-15",
        "current_period_progress": 200.0,
        "current_period_start": "2026-11-09",
        "current_period_end": "2026-11-15",
        "achieved": False,
    }
    assert [(h["period_start"], h["progress"], h["achieved"]) for h in v["history"]] == [
        ("2026-10-26", 600.0, True),
        ("2026-11-02", 0.0, False),
        ("2026-11-09", 200.0, False),
    ]


def test_ended_goal_reports_its_last_period_and_ignores_later_activities():
    s = UserStats("u")
    s.set_goals([Goal("d", "weekly_duration", 3600, date(2026, 11, 2), date(2026, 11, 8))])
    ev = create(s, run("a", at(2026, 11, 10), 5, moving_s=7200))
    assert of_type(ev, "goal_achieved") == []
    v = s.goals_view(date(2026, 12, 1))[0]
    assert (v["current_period_start"], v["current_period_progress"], len(v["history"])) == ("2026-11-02", 0.0, 1)


def test_yearly_goal_counts_local_days():
    tz = "Pacific/Auckland"
    s = UserStats("u", tz)
    s.set_goals([Goal("yr", "yearly_distance", 10000, date(2026, 1, 1))])
    create(s, run("a", at(2026, 1, 1, 0, 30, tz), 10))  # 2025-12-31 11:30 UTC, but 2026 in Auckland
    assert s.goals_view(date(2026, 6, 1))[0]["achieved"] is True


def test_monthly_count_goal_history_months():
    s = UserStats("u")
    s.set_goals([Goal("mc", "monthly_count", 2, date(2026, 9, 15))])
    for d in ((9, 20), (9, 21), (10, 3)):
        create(s, run(f"a{d}", at(2026, *d)))
    hist = s.goals_view(date(2026, 10, 10))[0]["history"]
    assert [(h["period_start"], h["period_end"], h["progress"], h["achieved"]) for h in hist] == [
        ("2026-09-15", "2026-09-30", 2, True),
        ("2026-10-01", "2026-10-31", 1, False),
    ]
