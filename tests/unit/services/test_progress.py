"""ProgressService with fakes: bounded ranges and goal counts (issue 9 #8), goal changes through the outbox,
rollbacks, someone else's goals, and cached reads (one cache round trip, ready bytes, ETags)."""

from __future__ import annotations

import datetime as dt
import uuid

import orjson
import pytest

from domain.errors import Conflict, Invalid, NotFound, Unavailable
from domain.progress.goals import HISTORY_PERIODS
from services.progress import Document, ProgressLimits
from tests.unit.services.progress_world import TODAY, UTC, World, run

WEEKLY = {"goal_type": "weekly_distance", "target_value": 10_000, "start_date": TODAY - dt.timedelta(days=14)}


def _goals(w: World, user: uuid.UUID) -> list[dict]:
    return orjson.loads(run(w.svc.goals(user)).body)


# ---------------------------------------------------------------------------------------------- #8 bounds


@pytest.mark.parametrize(
    "start, end, field",
    [
        (None, dt.date(9999, 12, 31), "to"),  # was a 500 (date overflow in the shard)
        (dt.date(1, 1, 1), dt.date(2026, 1, 1), "from"),  # was ~1 s of the shared actor per read
        (dt.date(2000, 1, 1), dt.date(2020, 1, 1), "from"),  # 20 years: over the span
        (dt.date(2026, 5, 1), dt.date(2026, 4, 1), "from"),  # reversed
        (TODAY - dt.timedelta(days=4000), None, "from"),  # to defaults to today: still over the span
    ],
)
def test_progress_ranges_are_bounded_and_never_reach_the_shard(
    start: dt.date | None, end: dt.date | None, field: str
) -> None:
    w = World()
    user = w.user()
    with pytest.raises(Invalid) as err:
        run(w.svc.progress(user, "distance", "weekly", None, start, end))
    assert err.value.details[0]["field"] == field
    assert w.shards.calls == []


def test_a_ten_year_weekly_series_is_answered() -> None:
    w = World()
    user = w.user()
    series = orjson.loads(
        run(w.svc.progress(user, "distance", "weekly", None, TODAY - dt.timedelta(days=3650), TODAY)).body
    )["series"]
    assert 520 <= len(series) <= 523


@pytest.mark.parametrize(
    "goal, field",
    [
        ({**WEEKLY, "start_date": dt.date(1, 1, 1)}, "start_date"),  # a goal from year 1
        ({**WEEKLY, "start_date": TODAY + dt.timedelta(days=3000)}, "start_date"),  # far in the future
        ({**WEEKLY, "end_date": TODAY + dt.timedelta(days=20 * 366)}, "end_date"),  # a 20-year goal
        ({**WEEKLY, "end_date": TODAY - dt.timedelta(days=30)}, "end_date"),  # ends before it starts
        ({**WEEKLY, "goal_type": "daily_vibes"}, "goal_type"),
        ({**WEEKLY, "target_value": 0}, "target_value"),
    ],
)
def test_bad_goals_are_invalid_and_store_nothing(goal: dict, field: str) -> None:
    w = World()
    user = w.user()
    with pytest.raises(Invalid) as err:
        run(w.svc.create_goal(user, goal))
    assert err.value.details[0]["field"] == field
    assert w.db.tables["goals"] == {} and w.db.outbox == []


def test_the_number_of_goals_per_user_is_capped() -> None:
    w = World(limits=ProgressLimits(max_goals_per_user=3))
    user, other = w.user(), w.user()
    for _ in range(3):
        run(w.svc.create_goal(user, WEEKLY))
    with pytest.raises(Conflict) as err:
        run(w.svc.create_goal(user, WEEKLY))
    assert err.value.code == "goal_limit_reached"
    assert len(w.db.tables["goals"]) == 3 and len(w.events("goals_changed")) == 3
    run(w.svc.create_goal(other, WEEKLY))  # per user
    run(w.svc.delete_goal(user, next(g for g, r in w.db.tables["goals"].items() if r["user_id"] == user)))
    run(w.svc.create_goal(user, WEEKLY))


def test_a_goals_history_is_bounded_even_for_an_old_goal_already_stored() -> None:
    w = World()
    user = w.user()
    goal_id = uuid.uuid4()  # stored before the bounds existed: a weekly goal from year 1
    w.db.tables["goals"][goal_id] = {
        "goal_id": goal_id,
        "user_id": user,
        "goal_type": "weekly_count",
        "target_value": 1.0,
        "sport": None,
        "start_date": dt.date(1, 1, 1),
        "end_date": None,
        "created_at": dt.datetime.now(UTC),
        "updated_at": dt.datetime.now(UTC),
    }
    (goal,) = _goals(w, user)
    assert len(goal["history"]) == HISTORY_PERIODS
    assert goal["history"][-1]["period_start"] <= TODAY.isoformat() <= goal["history"][-1]["period_end"]


def test_an_edit_that_keeps_an_old_start_is_allowed_but_moving_it_far_is_not() -> None:
    w = World(limits=ProgressLimits(goal_start_within_days=30))
    user = w.user()
    goal = run(w.svc.create_goal(user, {**WEEKLY, "start_date": TODAY - dt.timedelta(days=20)}))
    w.svc.today = lambda: TODAY + dt.timedelta(days=60)  # time passes: the start is now 80 days ago
    edited = run(w.svc.update_goal(user, uuid.UUID(goal["goal_id"]), {"target_value": 5000}))
    assert edited["target_value"] == 5000
    with pytest.raises(Invalid):
        run(w.svc.update_goal(user, uuid.UUID(goal["goal_id"]), {"start_date": TODAY - dt.timedelta(days=200)}))


# ---------------------------------------------------------------------------------------------- goals


def test_a_new_goal_commits_with_its_event_and_answers_its_progress() -> None:
    w = World()
    user = w.user()
    w.save_activity(user, dt.datetime.combine(TODAY, dt.time(6), UTC), 11)
    w.drain()
    goal = run(w.svc.create_goal(user, WEEKLY))
    assert goal["current_period_progress"] == pytest.approx(11_000) and goal["achieved"] is True
    assert [e.event_type for e in w.events(user_id=user) if e.event_type == "goals_changed"] == ["goals_changed"]
    assert len(w.events("goal_achieved", user)) == 1
    w.drain()  # the goals_changed delivery reloads again: nothing is announced twice
    assert len(w.events("goal_achieved", user)) == 1 and w.pending() == []


def test_a_goal_saved_while_its_shard_restarts_still_stands_and_its_event_catches_the_shard_up() -> None:
    w = World()
    user = w.user()
    w.shards.down = True
    goal = run(w.svc.create_goal(user, WEEKLY))
    assert goal["current_period_progress"] is None and goal["goal_id"] in {str(g) for g in w.db.tables["goals"]}
    w.shards.down = False
    w.drain()
    assert [g["goal_id"] for g in _goals(w, user)] == [goal["goal_id"]]


def test_a_goal_whose_commit_fails_leaves_nothing() -> None:
    w = World()
    user = w.user()
    w.db.fail_next_commit = Unavailable("postgres", "down")
    with pytest.raises(Unavailable):
        run(w.svc.create_goal(user, WEEKLY))
    assert w.db.tables["goals"] == {} and w.db.outbox == [] and w.db.rollbacks == 1
    assert ("reload_goals", user) not in w.shards.calls


def test_someone_elses_goal_is_not_found() -> None:
    w = World()
    user, other = w.user(), w.user()
    goal_id = uuid.UUID(run(w.svc.create_goal(user, WEEKLY))["goal_id"])
    with pytest.raises(NotFound):
        run(w.svc.update_goal(other, goal_id, {"target_value": 1}))
    with pytest.raises(NotFound):
        run(w.svc.delete_goal(other, goal_id))
    with pytest.raises(Invalid):
        run(w.svc.update_goal(user, goal_id, {"user_id": other}))
    assert w.db.tables["goals"][goal_id]["target_value"] == 10_000


def test_edit_and_delete_reach_the_stats() -> None:
    w = World()
    user = w.user()
    goal_id = uuid.UUID(run(w.svc.create_goal(user, WEEKLY))["goal_id"])
    assert run(w.svc.update_goal(user, goal_id, {"target_value": 3000}))["target_value"] == 3000
    assert _goals(w, user)[0]["target_value"] == 3000
    run(w.svc.delete_goal(user, goal_id))
    assert _goals(w, user) == []


# ---------------------------------------------------------------------------------------------- cached reads


def test_a_cached_read_is_one_cache_call_and_no_shard_call() -> None:
    w = World()
    user = w.user()
    first = run(w.svc.stats(user))
    assert w.cache.calls == {"get": 1, "put": 1, "invalidate": 0}
    reads = len(w.shards.calls)
    again = run(w.svc.stats(user))
    assert again == first and len(w.shards.calls) == reads and w.cache.calls["get"] == 2
    assert w.cache.calls["put"] == 1


def test_a_change_invalidates_and_the_etag_moves() -> None:
    w = World()
    user = w.user()
    before = run(w.svc.stats(user))
    w.save_activity(user, dt.datetime.combine(TODAY, dt.time(6), UTC), 5)
    w.drain()
    after = run(w.svc.stats(user))
    assert after.etag != before.etag and orjson.loads(after.body)["lifetime_workouts"] == 1
    assert after.matches(after.etag) and after.matches(f'W/{after.etag}, "x"') and not after.matches(before.etag)
    assert after.matches("*") and not after.matches(None)


def test_a_value_read_before_an_invalidation_is_never_cached_under_the_new_version() -> None:
    w = World()
    user = w.user()
    version, _ = run(w.cache.get(user, "stats", "-"))
    run(w.cache.invalidate(user))
    run(w.cache.put(user, "stats", "-", version, Document.of({"stale": True}).pack()))
    assert run(w.cache.get(user, "stats", "-"))[1] is None


def test_reads_answer_from_the_shard_when_the_cache_is_down() -> None:
    w = World()
    user = w.user()
    w.cache.down = True
    doc = run(w.svc.records(user))
    assert orjson.loads(doc.body)["longest"] == {} and doc.etag.startswith('"')
    progress = orjson.loads(run(w.svc.progress(user, "count", "monthly")).body)
    assert progress["metric"] == "count" and len(progress["series"]) == 12


def test_progress_variants_are_cached_apart() -> None:
    w = World()
    user = w.user()
    a = run(w.svc.progress(user, "distance", "weekly"))
    b = run(w.svc.progress(user, "count", "weekly"))
    assert orjson.loads(a.body)["metric"] == "distance" and orjson.loads(b.body)["metric"] == "count"
    assert run(w.svc.progress(user, "distance", "weekly")) == a
