"""Activities over HTTP against the Serve app, with Postgres and Cassandra checked directly."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from config.settings import Settings
from loadtest.synthetic import oval_run, shuffled, straight_ride, upload_body
from serve_app.schemas.activities import ActivityPage, ActivityPublic, ActivitySummary
from storage.cassandra import Cassandra
from storage.samples import SampleStore
from tests.e2e.conftest import register_and_login


@pytest.fixture()
def athlete(api: httpx.Client) -> tuple[str, dict[str, str]]:
    return register_and_login(api)


def _pg(settings: Settings, sql: str, *params: Any) -> list[tuple]:
    with psycopg.connect(settings.pg_dsn()) as conn:
        return conn.execute(sql, params).fetchall()


def _stored_points(settings: Settings, activity_id: str) -> int:
    async def go() -> int:
        cas = Cassandra(settings)
        try:
            buckets = _pg(settings, "SELECT sample_buckets FROM activities WHERE activity_id = %s", activity_id)
            store = SampleStore(cas, settings.sample_bucket_seconds)
            return len(await store.read_track(uuid.UUID(activity_id), buckets[0][0] if buckets else [0, 1, 2]))
        finally:
            cas.close()

    return asyncio.run(go())


def _raw_partition_rows(settings: Settings, activity_id: str, buckets: list[int]) -> int:
    async def go() -> int:
        cas = Cassandra(settings)
        try:
            stmt = cas.prepare("SELECT chunk FROM {keyspace}.samples WHERE activity_id = ? AND bucket = ?")
            total = 0
            for b in buckets:
                total += len(list(await cas.execute(stmt, (uuid.UUID(activity_id), b))))
            return total
        finally:
            cas.close()

    return asyncio.run(go())


def test_upload_of_a_track_run_is_measured_and_every_point_stored(
    api: httpx.Client, athlete, settings: Settings
) -> None:
    user_id, headers = athlete
    points = oval_run(laps=25)
    r = api.post("/activities", json=upload_body(points), headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "saved"
    activity_id = r.json()["activity_id"]

    got = api.get(f"/activities/{activity_id}", headers=headers)
    assert got.status_code == 200
    a = got.json()
    assert a["activity_id"] == activity_id and a["user_id"] == user_id and a["type"] == "running"
    assert a["distance"] == pytest.approx(10_000, rel=0.005)
    assert a["duration"] == pytest.approx(2500, abs=1)
    assert a["average_pace"] == pytest.approx(250, rel=0.01)  # 4 m/s = 250 s/km
    assert a["heart_rate_avg"] == pytest.approx(150, abs=0.5) and a["heart_rate_max"] == pytest.approx(150, abs=0.5)
    assert a["points_count"] == len(points)
    assert len(a["splits"]) == 10
    assert {e["name"] for e in a["best_efforts"]} == {"400m", "1k", "1mile", "5k"}  # 9,998 m of chords: no 10k
    assert a["route_polyline"] and a["summary_polyline"] and len(a["summary_polyline"]) < len(a["route_polyline"])
    assert a["bbox"][0] < a["bbox"][2] and a["bbox"][1] < a["bbox"][3]
    assert a["version"] == 1 and got.headers["etag"] == '"1"'
    assert _stored_points(settings, activity_id) == len(points)
    events = _pg(
        settings, "SELECT event_type FROM outbox WHERE aggregate_id = %s AND event_type LIKE 'activity_%%'", activity_id
    )
    assert events == [("activity_created",)]


def test_manual_entry_keeps_given_numbers_and_estimates_calories(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    body = {
        "type": "running",
        "start_time": "2026-11-02T18:00:00+01:00",
        "duration": 1800,
        "distance": 5000,
        "name": "Treadmill",
    }
    r = api.post("/activities", json=body, headers=headers)
    assert r.status_code == 201, r.text
    a = api.get(f"/activities/{r.json()['activity_id']}", headers=headers).json()
    assert a["duration"] == 1800 and a["distance"] == 5000 and a["points_count"] == 0
    assert a["name"] == "Treadmill" and a["calories"] > 100
    assert a["start_time"].startswith("2026-11-02T17:00:00")


def test_weightlifting_session_reports_volume_and_best_1rm(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    sets = [
        {"exercise": "squat", "reps": 5, "weight_kg": 100},
        {"exercise": "squat", "reps": 3, "weight_kg": 110},
        {"exercise": "bench press", "reps": 8, "weight_kg": 60, "rpe": 8, "rest_s": 120},
    ]
    body = {"type": "weightlifting", "start_time": "2026-11-03T07:00:00Z", "duration": 3000, "sets": sets}
    r = api.post("/activities", json=body, headers=headers)
    assert r.status_code == 201, r.text
    a = api.get(f"/activities/{r.json()['activity_id']}", headers=headers).json()
    assert a["strength"]["total_volume_kg"] == pytest.approx(5 * 100 + 3 * 110 + 8 * 60)
    assert a["strength"]["sets"] == 3
    assert a["strength"]["best_1rm"]["squat"] > 110
    assert [s["exercise"] for s in a["sets"]] == ["squat", "squat", "bench press"]


def test_retry_with_the_same_client_id_returns_the_same_activity(
    api: httpx.Client, athlete, settings: Settings
) -> None:
    _, headers = athlete
    body = upload_body(oval_run(laps=2), client_id=f"watch-{uuid.uuid4()}")
    first = api.post("/activities", json=body, headers=headers)
    second = api.post("/activities", json=body, headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["activity_id"] == second.json()["activity_id"]
    assert _pg(settings, "SELECT count(*) FROM activities WHERE client_id = %s", body["client_id"]) == [(1,)]


def test_same_client_id_with_a_different_body_is_a_conflict(api: httpx.Client, athlete, settings: Settings) -> None:
    _, headers = athlete
    body = upload_body(oval_run(laps=2), client_id=f"watch-{uuid.uuid4()}")
    first = api.post("/activities", json=body, headers=headers)
    changed = dict(body, name="something else")
    r = api.post("/activities", json=changed, headers=headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert _pg(settings, "SELECT activity_id::text FROM activities WHERE client_id = %s", body["client_id"]) == [
        (first.json()["activity_id"],)
    ]


def test_idempotency_key_header_works_like_client_id(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    key = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    body = {"type": "walking", "start_time": "2026-11-04T12:00:00Z", "duration": 600}
    a = api.post("/activities", json=body, headers={**headers, **key})
    b = api.post("/activities", json=body, headers={**headers, **key})
    assert (a.status_code, b.status_code) == (201, 200)
    assert a.json()["activity_id"] == b.json()["activity_id"]


def test_twenty_concurrent_identical_uploads_create_exactly_one_activity(
    api: httpx.Client, athlete, settings: Settings, serve_app: str
) -> None:
    _, headers = athlete
    body = upload_body(oval_run(laps=3), client_id=f"race-{uuid.uuid4()}")

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=serve_app, timeout=60) as c:
            return c.post("/activities", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(post, range(20)))
    assert {r.status_code for r in responses} <= {200, 201}, [r.text for r in responses if r.status_code > 201]
    assert sum(r.status_code == 201 for r in responses) == 1
    assert len({r.json()["activity_id"] for r in responses}) == 1
    assert _pg(settings, "SELECT count(*) FROM activities WHERE client_id = %s", body["client_id"]) == [(1,)]
    assert _pg(
        settings,
        "SELECT count(*) FROM outbox o JOIN activities a ON a.activity_id = o.aggregate_id"
        " WHERE a.client_id = %s AND o.event_type = 'activity_created'",
        body["client_id"],
    ) == [(1,)]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["data_points"][3].update(lat=91.0), "data_points.3.lat"),
        (lambda b: b["data_points"][2].update(lng=-180.5), "data_points.2.lng"),
        (lambda b: b["data_points"][1].update(heart_rate=-5), "data_points.1.heart_rate"),
        (lambda b: b["data_points"][4].update(heart_rate="fast"), "data_points.4.heart_rate"),
        (lambda b: b.update(type="jousting"), "type"),
        (lambda b: b.update(start_time="yesterday"), "start_time"),
        (lambda b: b["data_points"][5].update(time=-30), "data_points.5.time"),
        (lambda b: b["data_points"][6].update(lng=None), "data_points.6"),
    ],
)
def test_garbage_is_rejected_with_422_naming_the_field_and_stores_nothing(
    api: httpx.Client, athlete, settings: Settings, mutate, field: str
) -> None:
    user_id, headers = athlete
    body = upload_body(oval_run(laps=1))
    mutate(body)
    r = api.post("/activities", json=body, headers=headers)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert any(d["field"].startswith(field) for d in err["details"]), err
    assert _pg(settings, "SELECT count(*) FROM activities WHERE user_id = %s", user_id) == [(0,)]


def test_nan_in_a_point_is_rejected(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    body = upload_body(oval_run(laps=1))
    raw = json.dumps(body).replace('"heart_rate": 150.0', '"heart_rate": NaN', 1)
    r = api.post("/activities", content=raw, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["error"]["details"][0]  # NaN is not JSON: the body is malformed at the NaN's byte
    assert detail["field"] == "body" and f"(byte {raw.index('NaN')})" in detail["message"]


def test_unsorted_points_with_duplicates_are_cleaned_not_rejected(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    points = oval_run(laps=5)
    ordered = api.post("/activities", json=upload_body(points), headers=headers).json()["activity_id"]
    messy = api.post("/activities", json=upload_body(shuffled(points)), headers=headers)
    assert messy.status_code == 201, messy.text
    a = api.get(f"/activities/{ordered}", headers=headers).json()
    b = api.get(f"/activities/{messy.json()['activity_id']}", headers=headers).json()
    assert b["distance"] == pytest.approx(a["distance"], rel=1e-6)
    assert b["points_count"] == a["points_count"] == len(points)


def test_gzip_body_is_accepted(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    raw = gzip.compress(json.dumps(upload_body(oval_run(laps=2))).encode())
    r = api.post(
        "/activities", content=raw, headers={**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert r.status_code == 201, r.text
    assert api.get(f"/activities/{r.json()['activity_id']}", headers=headers).json()["distance"] == pytest.approx(
        800, rel=0.01
    )


def test_more_points_than_the_cap_is_413(api: httpx.Client, athlete, settings: Settings) -> None:
    user_id, headers = athlete
    points = [{"time": float(i), "heart_rate": 120.0} for i in range(settings.max_points + 1)]
    r = api.post("/activities", json=upload_body(points), headers=headers)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert _pg(settings, "SELECT count(*) FROM activities WHERE user_id = %s", user_id) == [(0,)]


def test_streams_return_strava_keys_and_downsample(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    points = straight_ride(seconds=1500)
    activity_id = api.post("/activities", json=upload_body(points, sport="cycling"), headers=headers).json()[
        "activity_id"
    ]
    keys = "time,latlng,distance,altitude,heartrate,cadence,watts,velocity"
    high = api.get(f"/activities/{activity_id}/streams", params={"keys": keys, "resolution": "high"}, headers=headers)
    assert high.status_code == 200, high.text
    s = high.json()
    assert set(s) == set(keys.split(","))
    assert len(s["time"]["data"]) == 1500 and s["time"]["original_size"] == 1500
    assert s["latlng"]["data"][0] == pytest.approx([45.0, 7.0])
    assert s["distance"]["data"][-1] == pytest.approx(1499 * 8, rel=0.01)
    assert s["watts"]["data"][0] == pytest.approx(200.0)
    low = api.get(
        f"/activities/{activity_id}/streams", params={"keys": "time,heartrate", "resolution": "low"}, headers=headers
    ).json()
    assert 50 <= len(low["time"]["data"]) <= 100 and len(low["heartrate"]["data"]) == len(low["time"]["data"])
    bad = api.get(f"/activities/{activity_id}/streams", params={"keys": "time,mood"}, headers=headers)
    assert bad.status_code == 422


def test_list_is_newest_first_with_filters_and_pages(api: httpx.Client, athlete) -> None:
    user_id, headers = athlete
    base = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)
    for day, sport in enumerate(["running", "cycling", "running", "walking", "running"]):
        body = {"type": sport, "start_time": (base + dt.timedelta(days=day)).isoformat(), "duration": 1200 + day}
        assert api.post("/activities", json=body, headers=headers).status_code == 201
    page = api.get(f"/users/{user_id}/activities", params={"limit": 2}, headers=headers).json()
    assert [i["duration"] for i in page["items"]] == [1204, 1203] and page["next_offset"] == 2
    rest = api.get(f"/users/{user_id}/activities", params={"limit": 10, "offset": 2}, headers=headers).json()
    assert [i["duration"] for i in rest["items"]] == [1202, 1201, 1200] and rest["next_offset"] is None
    runs = api.get(f"/users/{user_id}/activities", params={"type": "running"}, headers=headers).json()
    assert [i["duration"] for i in runs["items"]] == [1204, 1202, 1200]
    window = api.get(
        f"/users/{user_id}/activities",
        headers=headers,
        params={
            "after": (base + dt.timedelta(days=1)).isoformat(),
            "before": (base + dt.timedelta(days=4)).isoformat(),
        },
    ).json()
    assert [i["duration"] for i in window["items"]] == [1203, 1202]
    assert "route_polyline" not in runs["items"][0]


def test_patch_needs_the_current_version_and_a_type_change_remeasures(
    api: httpx.Client, athlete, settings: Settings
) -> None:
    _, headers = athlete
    activity_id = api.post(
        "/activities", json=upload_body(straight_ride(seconds=1400), sport="running"), headers=headers
    ).json()["activity_id"]
    ok = api.patch(
        f"/activities/{activity_id}", json={"name": "Commute", "notes": "windy"}, headers={**headers, "If-Match": '"1"'}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["version"] == 2 and ok.json()["name"] == "Commute" and ok.headers["etag"] == '"2"'
    stale = api.patch(f"/activities/{activity_id}", json={"name": "Nope"}, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
    assert api.get(f"/activities/{activity_id}", headers=headers).json()["name"] == "Commute"
    ride = api.patch(f"/activities/{activity_id}", json={"type": "cycling"}, headers={**headers, "If-Match": "2"})
    assert ride.status_code == 200
    names = {e["name"] for e in ride.json()["best_efforts"]}
    assert "20min_power" in names and "1mile" not in names
    events = _pg(
        settings,
        "SELECT event_type FROM outbox WHERE aggregate_id = %s AND event_type LIKE 'activity_%%' ORDER BY seq",
        activity_id,
    )
    assert events == [("activity_created",), ("activity_updated",), ("activity_updated",)]
    assert api.patch(f"/activities/{activity_id}", json={"type": "flying"}, headers=headers).status_code == 422


def test_a_list_page_is_the_documented_model_and_revalidates_until_the_list_changes(api: httpx.Client, athlete) -> None:
    user_id, headers = athlete
    for laps in (2, 3):
        assert api.post("/activities", json=upload_body(oval_run(laps=laps)), headers=headers).status_code == 201
    first = api.get(f"/users/{user_id}/activities?limit=1", headers=headers)
    assert first.status_code == 200 and first.headers["etag"].startswith('"')
    page = first.json()
    assert ActivityPage.model_validate(page).model_dump(mode="json") == page  # same fields, same formats
    assert set(page["items"][0]) == set(ActivitySummary.model_fields) and page["next_offset"] == 1
    etag = first.headers["etag"]
    same = api.get(f"/users/{user_id}/activities?limit=1", headers={**headers, "If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    api.post(
        "/activities",
        json=upload_body(oval_run(laps=4), start=dt.datetime(2026, 11, 20, 7, 0, tzinfo=dt.UTC)),
        headers=headers,
    )
    changed = api.get(f"/users/{user_id}/activities?limit=1", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_activity_read_is_the_documented_model_revalidates_with_304_and_shows_an_edit_at_once(
    api: httpx.Client, athlete
) -> None:
    _, headers = athlete
    activity_id = api.post("/activities", json=upload_body(oval_run(laps=3)), headers=headers).json()["activity_id"]
    first = api.get(f"/activities/{activity_id}", headers=headers)
    assert first.status_code == 200 and first.headers["etag"] == '"1"'
    body = first.json()
    # the ready bytes are exactly what the documented model would write: same fields, same formats
    assert set(body) == set(ActivityPublic.model_fields)
    assert ActivityPublic.model_validate(body).model_dump(mode="json") == body
    assert body["created_at"].endswith("Z") and body["start_time"].endswith("Z")
    cached = api.get(f"/activities/{activity_id}", headers=headers)  # the second read comes from the cache
    assert cached.content == first.content
    same = api.get(f"/activities/{activity_id}", headers={**headers, "If-None-Match": '"1"'})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == '"1"'
    r = api.patch(f"/activities/{activity_id}", json={"name": "Fartlek"}, headers={**headers, "If-Match": '"1"'})
    assert r.status_code == 200
    changed = api.get(f"/activities/{activity_id}", headers={**headers, "If-None-Match": '"1"'})
    assert changed.status_code == 200 and changed.json()["name"] == "Fartlek" and changed.headers["etag"] == '"2"'
    assert api.delete(f"/activities/{activity_id}", headers=headers).status_code == 204
    assert api.get(f"/activities/{activity_id}", headers=headers).status_code == 404


def test_delete_removes_the_summary_and_every_point(api: httpx.Client, athlete, settings: Settings) -> None:
    _, headers = athlete
    activity_id = api.post("/activities", json=upload_body(oval_run(laps=3)), headers=headers).json()["activity_id"]
    buckets = _pg(settings, "SELECT sample_buckets FROM activities WHERE activity_id = %s", activity_id)[0][0]
    assert _raw_partition_rows(settings, activity_id, buckets) > 0
    assert api.delete(f"/activities/{activity_id}", headers=headers).status_code == 204
    assert api.get(f"/activities/{activity_id}", headers=headers).status_code == 404
    assert _raw_partition_rows(settings, activity_id, buckets) == 0
    assert _pg(settings, "SELECT count(*) FROM sample_purges WHERE activity_id = %s", activity_id) == [(0,)]
    assert _pg(
        settings,
        "SELECT event_type FROM outbox WHERE aggregate_id = %s AND event_type LIKE 'activity_%%' ORDER BY seq",
        activity_id,
    )[-1] == ("activity_deleted",)
    assert api.delete(f"/activities/{activity_id}", headers=headers).status_code == 404


def test_another_users_activity_is_not_found(api: httpx.Client, athlete) -> None:
    _, owner = athlete
    _, stranger = register_and_login(api)
    activity_id = api.post("/activities", json=upload_body(oval_run(laps=1)), headers=owner).json()["activity_id"]
    for method, path, kw in [
        ("GET", f"/activities/{activity_id}", {}),
        ("GET", f"/activities/{activity_id}/streams", {}),
        ("PATCH", f"/activities/{activity_id}", {"json": {"name": "mine now"}}),
        ("DELETE", f"/activities/{activity_id}", {}),
    ]:
        r = api.request(method, path, headers=stranger, **kw)
        assert r.status_code == 404, (method, path, r.status_code)
    assert api.get(f"/activities/{activity_id}", headers=owner).json()["name"] != "mine now"


def test_uploading_without_a_token_is_401(api: httpx.Client) -> None:
    r = api.post("/activities", json={"type": "running", "start_time": "2026-11-01T00:00:00Z", "duration": 60})
    assert r.status_code == 401


def test_malformed_json_is_422_naming_the_body(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    r = api.post(
        "/activities", content=b'{"type": "running", oops', headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "body"


def test_openapi_documents_the_upload_body(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    body = spec["paths"]["/activities"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ActivityCreate"}
    assert {"data_points", "start_time", "type"} <= set(spec["components"]["schemas"]["ActivityCreate"]["properties"])
