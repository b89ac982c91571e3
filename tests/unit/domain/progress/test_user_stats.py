import json
from datetime import date

import pytest

from domain.progress import ActivityFact, Goal, UserStats, recompute
from domain.progress.user_stats import SEEN_LIMIT

from .progress_synth import at, create, run

TODAY = date(2026, 11, 11)


def test_replayed_event_id_changes_nothing_and_returns_nothing():
    s = UserStats("u")
    f = run("a", at(2026, 11, 10), 5)
    assert s.apply("e1", "created", f, "a") != []
    before = s.to_state()
    assert s.apply("e1", "created", f, "a") == []
    assert s.apply("e1", "deleted", None, "a") == []  # the id decides, not the payload
    assert s.to_state() == before


def test_created_twice_with_new_ids_is_an_upsert_not_a_double_count():
    s = UserStats("u")
    f = run("a", at(2026, 11, 10), 5)
    s.apply("e1", "created", f, "a")
    s.apply("e2", "created", f, "a")
    assert s.snapshot(TODAY)["lifetime_workouts"] == 1


def test_stale_revision_is_ignored_and_unknown_delete_is_a_no_op():
    s = UserStats("u")
    s.apply("e1", "created", run("a", at(2026, 11, 10), 5, revision=2), "a")
    assert s.apply("e2", "updated", run("a", at(2026, 11, 10), 9, revision=1), "a") == []
    assert s.snapshot(TODAY)["ytd_distance"] == 5000.0
    assert s.apply("e3", "deleted", None, "zzz") == []


def test_inconsistent_events_are_rejected_before_being_remembered():
    s = UserStats("u")
    with pytest.raises(ValueError):
        s.apply("e1", "created", None, "a")
    with pytest.raises(ValueError):
        s.apply("e1", "updated", run("b", at(2026, 11, 10)), "a")
    with pytest.raises(ValueError):
        s.apply("e1", "archived", run("a", at(2026, 11, 10)), "a")
    assert s.apply("e1", "created", run("a", at(2026, 11, 10)), "a") != []


def test_seen_event_ids_are_bounded():
    s = UserStats("u")
    for i in range(SEEN_LIMIT + 5):
        s.apply(f"e{i}", "deleted", None, "none")
    assert len(s.to_state()["seen"]) == SEEN_LIMIT
    assert s.to_state()["seen"][0] == "e5"


def test_state_round_trips_through_json():
    s = UserStats("u", "Europe/Paris", {"max_hr": 185, "sex": "female"})
    s.set_goals([Goal("g", "weekly_count", 2, date(2026, 11, 1), None, "running")])
    create(s, run("a", at(2026, 11, 9), 5, best_efforts=(("5k", 1500.0),), hr_avg=150.0))
    create(s, ActivityFact("w", "weightlifting", at(2026, 11, 10), one_rm=(("squat", 100.0),), volume_kg=3000))
    create(s, run("b", at(2026, 11, 10), 5))
    back = UserStats.from_state(json.loads(json.dumps(s.to_state())))
    assert back.snapshot(TODAY) == s.snapshot(TODAY)
    assert back.records() == s.records() and back.goals_view(TODAY) == s.goals_view(TODAY)
    assert back.to_state() == s.to_state()
    assert create(back, run("c", at(2026, 11, 11), 5)) == list(create(s, run("c", at(2026, 11, 11), 5)))


def test_from_state_keeps_announced_goal_periods():
    s = UserStats("u")
    s.set_goals([Goal("g", "weekly_count", 1, date(2026, 11, 1))])
    create(s, run("a", at(2026, 11, 9)))
    back = UserStats.from_state(s.to_state())
    assert [e for e in create(back, run("b", at(2026, 11, 10))) if e["type"] == "goal_achieved"] == []


def test_recompute_equals_incremental_for_a_small_history():
    facts = [run("a", at(2026, 11, 9), 5), run("b", at(2026, 11, 2), 7, best_efforts=(("5k", 1600.0),))]
    goals = [Goal("g", "weekly_distance", 6000, date(2026, 10, 1))]
    s = UserStats("u", "Asia/Tokyo")
    s.set_goals(goals)
    for f in facts:
        create(s, f)
    r = recompute("u", "Asia/Tokyo", facts, goals)
    assert r.snapshot(TODAY) == s.snapshot(TODAY) and r.goals_view(TODAY) == s.goals_view(TODAY)


def test_snapshot_is_json_serialisable_with_expected_keys():
    s = UserStats("u")
    create(s, run("a", at(2026, 11, 9), 5))
    snap = s.snapshot(TODAY)
    assert {"ytd_distance", "lifetime_workouts", "totals", "streaks", "personal_records", "training_load"} <= set(snap)
    json.dumps(snap, allow_nan=False)


def test_unknown_timezone_is_rejected():
    with pytest.raises(ValueError):
        UserStats("u", "Mars/Olympus")
