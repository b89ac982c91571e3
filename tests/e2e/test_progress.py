"""Progress over HTTP: events flow from the outbox to the user's stats actor; totals, streaks, records, goals,
insights; late uploads, edits, deletes, timezones, redelivered events, a killed shard, a killed dispatcher and
janitor (their loops resume with no call), bounded ranges and goal counts, ETags."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from config.settings import Settings
from domain.progress.goals import goal_from_dict
from domain.progress.user_stats import recompute
from loadtest.synthetic import oval_run, upload_body
from storage.goals import GOAL_COLUMNS
from storage.stats import FACT_COLUMNS, fact_from_row
from tests.e2e.conftest import deployed_topology, register_and_login

UTC = dt.UTC


def until(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    """Poll fetch() until ok(value) (events reach the stats actor asynchronously)."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.25)
        value = fetch()
    assert ok(value), value
    return value


def manual(
    api: httpx.Client,
    headers: dict[str, str],
    start: dt.datetime,
    distance: float,
    duration: float = 1800,
    sport: str = "running",
    **extra: Any,
) -> str:
    body = {"type": sport, "start_time": start.isoformat(), "distance": distance, "duration": duration, **extra}
    r = api.post("/activities", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["activity_id"]


def stats(api: httpx.Client, user_id: str, headers: dict[str, str]) -> dict[str, Any]:
    r = api.get(f"/users/{user_id}/stats", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def weekly(
    api: httpx.Client, user_id: str, headers: dict[str, str], start: dt.date, end: dt.date, metric: str = "distance"
) -> dict[str, float]:
    r = api.get(
        f"/users/{user_id}/progress",
        headers=headers,
        params={"metric": metric, "period": "weekly", "from": start.isoformat(), "to": end.isoformat()},
    )
    assert r.status_code == 200, r.text
    return {p["period_start"]: p["value"] for p in r.json()["series"]}


@pytest.fixture()
def athlete(api: httpx.Client) -> tuple[str, dict[str, str]]:
    return register_and_login(api, timezone="Europe/Ljubljana")


def test_totals_follow_creates_edits_and_deletes(api: httpx.Client, athlete) -> None:
    user_id, headers = athlete
    now = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    a = manual(api, headers, now, 5000)
    b = manual(api, headers, now - dt.timedelta(minutes=30), 7000, sport="cycling")
    s = until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 2)
    assert s["ytd_distance"] == pytest.approx(12000)
    assert s["totals"]["running"]["lifetime"]["distance_m"] == pytest.approx(5000)
    assert s["totals"]["cycling"]["lifetime"]["count"] == 1
    assert api.patch(f"/activities/{b}", json={"type": "running"}, headers=headers).status_code == 200
    s = until(
        lambda: stats(api, user_id, headers),
        lambda s: "cycling" not in s["totals"] or s["totals"]["cycling"]["lifetime"]["count"] == 0,
    )
    assert s["totals"]["running"]["lifetime"]["count"] == 2
    assert api.delete(f"/activities/{a}", headers=headers).status_code == 204
    s = until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 1)
    assert s["ytd_distance"] == pytest.approx(7000)


def test_a_late_upload_changes_its_week_the_streaks_and_the_records(api: httpx.Client, athlete) -> None:
    user_id, headers = athlete
    tz = dt.timezone(dt.timedelta(hours=1))
    monday = dt.datetime(2026, 10, 5, 8, 0, tzinfo=tz)
    for day in (0, 1, 3):
        manual(api, headers, monday + dt.timedelta(days=day), 5000 + day)
    until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 3)
    records = api.get(f"/users/{user_id}/records", headers=headers).json()
    assert records["longest"]["running"]["value"] == pytest.approx(5003)
    late = manual(api, headers, monday + dt.timedelta(days=2), 9000)  # fills the gap, and is the longest
    until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 4)
    series = weekly(api, user_id, headers, dt.date(2026, 9, 28), dt.date(2026, 10, 18))
    assert series == {"2026-09-28": 0, "2026-10-05": pytest.approx(5000 + 5001 + 9000 + 5003), "2026-10-12": 0}
    records = api.get(f"/users/{user_id}/records", headers=headers).json()
    assert records["longest"]["running"]["activity_id"] == late
    assert [h["value"] for h in records["longest"]["running"]["history"]] == [5000, 5001, 9000]
    assert stats(api, user_id, headers)["streaks"]["daily"]["longest"] == 4


def test_deleting_a_personal_record_hands_it_to_the_next_best(api: httpx.Client, athlete) -> None:
    user_id, headers = athlete
    start = dt.datetime(2026, 9, 1, 7, 0, tzinfo=UTC)
    slow = api.post(
        "/activities", json=upload_body(oval_run(laps=3, speed_mps=3.0), start=start), headers=headers
    ).json()["activity_id"]
    fast = api.post(
        "/activities",
        json=upload_body(oval_run(laps=3, speed_mps=4.0), start=start + dt.timedelta(days=1)),
        headers=headers,
    ).json()["activity_id"]
    best = lambda: api.get(f"/users/{user_id}/records", headers=headers).json()  # noqa: E731
    r = until(best, lambda r: r.get("best_efforts", {}).get("running", {}).get("1k", {}).get("activity_id") == fast)
    assert r["best_efforts"]["running"]["1k"]["value"] == pytest.approx(250, rel=0.02)
    insights = until(lambda: api.get(f"/activities/{fast}", headers=headers).json()["insights"], lambda i: len(i) > 0)
    assert any(i["kind"] == "new_pr" and i["name"] == "1k" for i in insights)
    api.delete(f"/activities/{fast}", headers=headers)
    r = until(best, lambda r: r["best_efforts"]["running"]["1k"]["activity_id"] == slow)
    assert r["best_efforts"]["running"]["1k"]["value"] == pytest.approx(1000 / 3.0, rel=0.02)


def test_days_and_weeks_are_in_the_users_timezone(api: httpx.Client) -> None:
    user_id, headers = register_and_login(api, timezone="America/New_York")
    sunday_late = dt.datetime(2026, 10, 11, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-4)))  # Monday 03:30 UTC
    manual(api, headers, sunday_late, 4000)
    until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 1)
    series = weekly(api, user_id, headers, dt.date(2026, 10, 5), dt.date(2026, 10, 12))
    assert series == {"2026-10-05": 4000, "2026-10-12": 0}
    api.patch(f"/users/{user_id}", json={"timezone": "UTC"}, headers=headers)
    until(
        lambda: weekly(api, user_id, headers, dt.date(2026, 10, 5), dt.date(2026, 10, 12)),
        lambda s: s == {"2026-10-05": 0, "2026-10-12": 4000},
    )


def test_a_redelivered_event_is_not_counted_twice(api: httpx.Client, athlete, settings: Settings) -> None:
    user_id, headers = athlete
    activity_id = manual(api, headers, dt.datetime.now(UTC) - dt.timedelta(hours=2), 3000)
    until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 1)
    with psycopg.connect(settings.pg_dsn(), autocommit=True) as conn:
        replayed = conn.execute(
            "INSERT INTO outbox_deliveries (seq, consumer) SELECT seq, 'stats' FROM outbox"
            " WHERE aggregate_id = %s AND event_type = 'activity_created'",
            (activity_id,),
        ).rowcount
        assert replayed == 1
        until(
            lambda: conn.execute(
                "SELECT count(*) FROM outbox_deliveries d JOIN outbox o USING (seq) WHERE o.aggregate_id = %s",
                (activity_id,),
            ).fetchone()[0],
            lambda n: n == 0,
        )
    s = stats(api, user_id, headers)
    assert s["lifetime_workouts"] == 1 and s["ytd_distance"] == pytest.approx(3000)


def test_goals_track_progress_and_are_announced_once_per_period(api: httpx.Client, athlete, settings: Settings) -> None:
    user_id, headers = athlete
    r = api.post(
        "/goals",
        headers=headers,
        json={"user_id": user_id, "goal_type": "weekly_distance", "target_value": 10000, "start_date": "2026-09-01"},
    )
    assert r.status_code == 201, r.text
    goal = r.json()
    assert goal["period"] == "week" and goal["achieved"] is False and goal["current_period_progress"] == 0
    goal_id = goal["goal_id"]
    now = dt.datetime.now(UTC) - dt.timedelta(minutes=30)
    manual(api, headers, now, 6000)
    manual(api, headers, now - dt.timedelta(minutes=5), 6000)
    goals = until(lambda: api.get(f"/users/{user_id}/goals", headers=headers).json(), lambda g: g[0]["achieved"])
    assert goals[0]["current_period_progress"] == pytest.approx(12000)
    manual(api, headers, now - dt.timedelta(minutes=10), 1000)  # more in an achieved week: no second announcement
    old_week = dt.datetime(2026, 9, 15, 9, 0, tzinfo=UTC)  # a late upload completes a past week
    manual(api, headers, old_week, 10500)
    until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 4)

    def announced() -> list[str]:
        with psycopg.connect(settings.pg_dsn()) as conn:
            rows = conn.execute(
                "SELECT payload->>'period_start' FROM outbox WHERE user_id = %s"
                " AND event_type = 'goal_achieved'"
                " ORDER BY seq",
                (user_id,),
            ).fetchall()
        return sorted(r[0] for r in rows)

    periods = until(announced, lambda p: len(p) == 2)
    assert "2026-09-14" in periods
    history = {h["period_start"]: h for h in api.get(f"/users/{user_id}/goals", headers=headers).json()[0]["history"]}
    assert history["2026-09-14"]["achieved"] is True and history["2026-09-07"]["achieved"] is False
    patched = api.patch(f"/goals/{goal_id}", json={"target_value": 50000}, headers=headers)
    assert patched.status_code == 200 and patched.json()["achieved"] is False
    assert api.delete(f"/goals/{goal_id}", headers=headers).status_code == 204
    assert api.get(f"/users/{user_id}/goals", headers=headers).json() == []


def test_goal_validation_and_other_users(api: httpx.Client, athlete) -> None:
    user_id, headers = athlete
    _, other = register_and_login(api)
    body = {"user_id": user_id, "goal_type": "weekly_distance", "target_value": 1000, "start_date": "2026-01-01"}
    assert api.post("/goals", json={**body, "goal_type": "daily_vibes"}, headers=headers).status_code == 422
    assert api.post("/goals", json={**body, "target_value": -1}, headers=headers).status_code == 422
    assert api.post("/goals", json={**body, "end_date": "2025-01-01"}, headers=headers).status_code == 422
    assert api.post("/goals", json=body, headers=other).status_code == 404
    goal_id = api.post("/goals", json=body, headers=headers).json()["goal_id"]
    assert api.patch(f"/goals/{goal_id}", json={"target_value": 5}, headers=other).status_code == 404
    assert api.delete(f"/goals/{goal_id}", headers=other).status_code == 404
    for path in ("stats", "records", "goals", "progress"):
        assert api.get(f"/users/{user_id}/{path}", headers=other).status_code == 404


def test_progress_series_is_zero_filled(api: httpx.Client, athlete) -> None:
    user_id, headers = athlete
    manual(api, headers, dt.datetime(2026, 8, 12, 7, 0, tzinfo=UTC), 8000, duration=2400)
    until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 1)
    r = api.get(
        f"/users/{user_id}/progress",
        headers=headers,
        params={"metric": "duration", "period": "monthly", "from": "2026-06-01", "to": "2026-10-31"},
    ).json()
    assert [(p["period_start"], p["value"]) for p in r["series"]] == [
        ("2026-06-01", 0),
        ("2026-07-01", 0),
        ("2026-08-01", 2400),
        ("2026-09-01", 0),
        ("2026-10-01", 0),
    ]
    bad = api.get(f"/users/{user_id}/progress", headers=headers, params={"metric": "vibes"})
    assert bad.status_code == 422


def test_actor_stats_equal_a_recompute_from_the_stored_activities(
    api: httpx.Client, athlete, settings: Settings
) -> None:
    user_id, headers = athlete
    base = dt.datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    ids = [manual(api, headers, base + dt.timedelta(days=d * 2, hours=d), 3000 + 250 * d) for d in range(8)]
    api.patch(f"/activities/{ids[2]}", json={"type": "cycling"}, headers=headers)
    api.delete(f"/activities/{ids[5]}", headers=headers)
    api.post(
        "/goals",
        headers=headers,
        json={"user_id": user_id, "goal_type": "monthly_count", "target_value": 3, "start_date": "2026-07-01"},
    )
    until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 7 and "cycling" in s["totals"])
    with psycopg.connect(settings.pg_dsn(), row_factory=psycopg.rows.dict_row) as conn:
        facts = [
            fact_from_row(r)
            for r in conn.execute(
                f"SELECT {FACT_COLUMNS} FROM activities WHERE user_id = %s AND status = 'saved'", (user_id,)
            ).fetchall()
        ]
        goals = [
            goal_from_dict(r) for r in conn.execute(f"SELECT {GOAL_COLUMNS} FROM goals WHERE user_id = %s", (user_id,))
        ]
    fresh = recompute(user_id, "Europe/Ljubljana", facts, goals)
    api_stats = stats(api, user_id, headers)
    expected = fresh.snapshot()
    for key in ("ytd_distance", "lifetime_workouts", "totals", "streaks", "personal_records"):
        assert api_stats[key] == _jsonish(expected[key]), key
    assert api.get(f"/users/{user_id}/records", headers=headers).json() == _jsonish(fresh.records())
    assert api.get(f"/users/{user_id}/goals", headers=headers).json() == _jsonish(fresh.goals_view())


def _jsonish(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def test_killing_a_stats_shard_loses_and_double_counts_nothing(api: httpx.Client, athlete, settings: Settings) -> None:
    import ray

    from actors.gateway import shard_for

    user_id, headers = athlete
    base = dt.datetime.now(UTC) - dt.timedelta(days=20)
    for d in range(5):
        manual(api, headers, base + dt.timedelta(days=d), 2000)
    until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 5)
    names = deployed_topology(settings).stats_shards
    shard = ray.get_actor(names[shard_for(uuid.UUID(user_id), len(names))], namespace=settings.ray_namespace)
    ray.kill(shard, no_restart=False)
    for d in range(5, 10):
        manual(api, headers, base + dt.timedelta(days=d), 2000)

    def current() -> dict | None:
        r = api.get(f"/users/{user_id}/stats", headers=headers)
        return r.json() if r.status_code == 200 else None

    s = until(current, lambda s: s is not None and s["lifetime_workouts"] == 10, timeout=60)
    assert s["totals"]["running"]["lifetime"]["distance_m"] == pytest.approx(20000)
    time.sleep(2)  # any redelivery has happened by now
    assert stats(api, user_id, headers)["lifetime_workouts"] == 10


def _envelope(r: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] and error["message"]
    if field is not None:
        assert field in {d["field"] for d in error["details"]}, error
    return error


def test_unbounded_ranges_and_too_many_goals_are_4xx_with_the_envelope(
    api: httpx.Client, athlete, settings: Settings
) -> None:
    """Issue 9 #8: `to=9999-12-31` was a 500; a weekly goal from year 1 cost ~1 s of the shared actor per read;
    goals per user were unlimited."""
    user_id, headers = athlete
    progress = f"/users/{user_id}/progress"
    _envelope(api.get(progress, headers=headers, params={"to": "9999-12-31"}), 422, "to")
    _envelope(api.get(progress, headers=headers, params={"from": "0001-01-01", "to": "2026-01-01"}), 422, "from")
    _envelope(api.get(progress, headers=headers, params={"from": "2000-01-01", "to": "2020-01-01"}), 422, "from")
    assert api.get(progress, headers=headers, params={"from": "2017-01-01", "to": "2026-12-31"}).status_code == 200
    body = {"user_id": user_id, "goal_type": "weekly_distance", "target_value": 1000}
    today = dt.date.today()
    _envelope(api.post("/goals", headers=headers, json={**body, "start_date": "0001-01-01"}), 422, "start_date")
    _envelope(
        api.post("/goals", headers=headers, json={**body, "start_date": today.isoformat(), "end_date": "9999-12-31"}),
        422,
        "end_date",
    )
    for _ in range(settings.max_goals_per_user):
        assert api.post("/goals", headers=headers, json={**body, "start_date": today.isoformat()}).status_code == 201
    error = _envelope(api.post("/goals", headers=headers, json={**body, "start_date": today.isoformat()}), 409)
    assert error["code"] == "goal_limit_reached"
    assert len(api.get(f"/users/{user_id}/goals", headers=headers).json()) == settings.max_goals_per_user


def test_reads_carry_an_etag_and_if_none_match_answers_304(api: httpx.Client, athlete) -> None:
    user_id, headers = athlete
    for path in ("stats", "records", "goals", "progress"):
        first = api.get(f"/users/{user_id}/{path}", headers=headers)
        assert first.status_code == 200 and first.headers["ETag"].startswith('"')
        again = api.get(f"/users/{user_id}/{path}", headers={**headers, "If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == first.headers["ETag"]
    before = api.get(f"/users/{user_id}/stats", headers=headers).headers["ETag"]
    manual(api, headers, dt.datetime.now(UTC) - dt.timedelta(hours=1), 4000)
    changed = until(
        lambda: api.get(f"/users/{user_id}/stats", headers={**headers, "If-None-Match": before}),
        lambda r: r.status_code == 200,
    )
    assert changed.headers["ETag"] != before and changed.json()["lifetime_workouts"] == 1


def test_the_dispatcher_and_the_janitor_resume_their_work_after_a_ray_restart_without_any_call(
    api: httpx.Client, athlete, settings: Settings
) -> None:
    """Issue 9 #18: the loops used to start only when something called `ping`; a restarted actor sat idle."""
    import ray

    topo = deployed_topology(settings)
    for name in (topo.dispatcher, topo.janitor):
        ray.kill(ray.get_actor(name, namespace=settings.ray_namespace), no_restart=False)
    user_id, headers = athlete
    manual(api, headers, dt.datetime.now(UTC) - dt.timedelta(hours=1), 6000)  # needs the dispatcher
    purge = uuid.uuid4()  # a queued sample purge (of an activity whose samples are gone already): needs the janitor
    with psycopg.connect(settings.pg_dsn(), autocommit=True) as conn:
        conn.execute("INSERT INTO sample_purges (activity_id, buckets) VALUES (%s, %s)", (purge, [0, 1]))
        s = until(lambda: stats(api, user_id, headers), lambda s: s["lifetime_workouts"] == 1, timeout=60)
        assert s["ytd_distance"] == pytest.approx(6000)
        until(
            lambda: conn.execute("SELECT count(*) FROM sample_purges WHERE activity_id = %s", (purge,)).fetchone()[0],
            lambda n: n == 0,
            timeout=60,
        )
