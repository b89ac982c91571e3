"""Live workouts over HTTP and WebSocket: batches, acks, gaps, pauses, sharing, finish == upload, shard crashes."""
from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from websockets.sync.client import connect as ws_connect

from config.settings import Settings
from loadtest.synthetic import oval_run, upload_body
from tests.e2e.conftest import register_and_login

START = "2026-11-05T06:00:00+00:00"
COMPARED = ("distance", "duration", "moving_time", "heart_rate_avg", "heart_rate_max", "elevation_gain",
            "average_pace", "max_speed", "points_count", "route_polyline", "summary_polyline", "calories")


@pytest.fixture()
def athlete(api: httpx.Client) -> tuple[str, dict[str, str]]:
    return register_and_login(api)


def batches(points: list[dict[str, Any]], size: int = 10) -> list[list[dict[str, Any]]]:
    return [points[i:i + size] for i in range(0, len(points), size)]


def start(api: httpx.Client, headers: dict[str, str], sport: str = "running", **extra: Any) -> str:
    r = api.post("/activities/start", json={"type": sport, "start_time": START, **extra}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "live"
    return r.json()["activity_id"]


def send(api: httpx.Client, headers: dict[str, str], activity_id: str, seq: int, points: list[dict]) -> httpx.Response:
    return api.post(f"/activities/{activity_id}/samples", json={"seq": seq, "points": points}, headers=headers)


def assert_same_metrics(live: dict[str, Any], uploaded: dict[str, Any]) -> None:
    for key in COMPARED:
        assert live[key] == pytest.approx(uploaded[key], rel=1e-9), key
    assert live["splits"] == uploaded["splits"] and live["best_efforts"] == uploaded["best_efforts"]


def stored_chunks(settings: Settings, activity_id: str) -> int:
    import asyncio

    from storage.cassandra import Cassandra

    async def go() -> int:
        cas = Cassandra(settings)
        try:
            stmt = cas.prepare("SELECT chunk FROM {keyspace}.samples WHERE activity_id = ? AND bucket = 0")
            return len(list(await cas.execute(stmt, (uuid.UUID(activity_id),))))
        finally:
            cas.close()
    return asyncio.run(go())


def test_start_is_idempotent_on_client_id(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    body = {"type": "cycling", "client_id": f"live-{uuid.uuid4()}"}
    a = api.post("/activities/start", json=body, headers=headers)
    b = api.post("/activities/start", json=body, headers=headers)
    assert (a.status_code, b.status_code) == (201, 200)
    assert a.json()["activity_id"] == b.json()["activity_id"]


def test_batches_are_acked_duplicates_are_not_stored_twice(api: httpx.Client, athlete, settings: Settings) -> None:
    _, headers = athlete
    activity_id = start(api, headers)
    parts = batches(oval_run(laps=1), 20)
    for seq, pts in enumerate(parts[:3], start=1):
        r = send(api, headers, activity_id, seq, pts)
        assert r.status_code == 200, r.text
        assert r.json()["acked_seq"] == seq and r.json()["duplicate"] is False
    again = send(api, headers, activity_id, 2, parts[1])
    assert again.status_code == 200
    assert again.json() == {"acked_seq": 3, "missing": [], "highest_seq": 3, "duplicate": True}
    assert stored_chunks(settings, activity_id) == 3
    live = api.get(f"/activities/{activity_id}/live", headers=headers).json()
    assert live["points_received"] == 60
    assert live["distance"] == pytest.approx(59 * 4.0, rel=0.02)
    assert live["average_heart_rate"] == pytest.approx(150)
    assert live["elapsed_time"] == pytest.approx(59.0)


def test_out_of_order_batches_report_the_gap_until_it_is_filled(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    activity_id = start(api, headers)
    parts = batches(oval_run(laps=1), 10)
    assert send(api, headers, activity_id, 1, parts[0]).json()["acked_seq"] == 1
    gap = send(api, headers, activity_id, 4, parts[3]).json()
    assert gap["acked_seq"] == 1 and gap["missing"] == [2, 3] and gap["highest_seq"] == 4
    assert send(api, headers, activity_id, 3, parts[2]).json()["missing"] == [2]
    filled = send(api, headers, activity_id, 2, parts[1]).json()
    assert filled["acked_seq"] == 4 and filled["missing"] == []
    live = api.get(f"/activities/{activity_id}/live", headers=headers).json()
    assert live["points_received"] == 40 and live["last_sample_time"] == pytest.approx(39.0)
    too_far = send(api, headers, activity_id, 500, parts[4])
    assert too_far.status_code == 409


def test_bad_batches_are_rejected(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    activity_id = start(api, headers)
    assert send(api, headers, activity_id, 1, []).status_code == 422
    assert send(api, headers, activity_id, 0, [{"time": 1.0}]).status_code == 422
    assert send(api, headers, activity_id, 1, [{"time": 1.0, "lat": 95.0, "lng": 1.0}]).status_code == 422
    assert send(api, headers, activity_id, 1, [{"time": float(i)} for i in range(601)]).status_code == 422


def test_finish_gives_the_same_activity_as_an_upload_of_the_same_points(api: httpx.Client, athlete, settings: Settings) -> None:
    _, headers = athlete
    points = oval_run(laps=6)
    activity_id = start(api, headers)
    parts = batches(points, 25)
    order = list(range(1, len(parts) + 1))
    order[3], order[4] = order[4], order[3]  # out of order
    for seq in order + [2, 7]:  # and a couple of duplicates
        assert send(api, headers, activity_id, seq, parts[seq - 1]).status_code == 200
    finished = api.post(f"/activities/{activity_id}/finish", headers=headers)
    assert finished.status_code == 200, finished.text
    live = finished.json()
    assert live["status"] == "saved" and live["activity_id"] == activity_id
    uploaded_id = api.post("/activities", json=upload_body(points, start=dt.datetime.fromisoformat(START)), headers=headers).json()["activity_id"]
    uploaded = api.get(f"/activities/{uploaded_id}", headers=headers).json()
    assert_same_metrics(live, uploaded)
    with psycopg.connect(settings.pg_dsn()) as conn:
        events = conn.execute("SELECT event_type FROM outbox WHERE aggregate_id = %s AND event_type LIKE 'activity_%%'",
                              (activity_id,)).fetchall()
    assert events == [("activity_created",)]
    assert api.post(f"/activities/{activity_id}/finish", headers=headers).json()["distance"] == live["distance"]
    assert send(api, headers, activity_id, 99, parts[0]).status_code == 404
    ids = [i["activity_id"] for i in api.get(f"/users/{live['user_id']}/activities", headers=headers).json()["items"]]
    assert activity_id in ids


def test_manual_pause_excludes_the_paused_stretch(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    points = oval_run(laps=6)  # 601 points, 1 s apart, 4 m/s: 2,400 m
    activity_id = start(api, headers)
    parts = batches(points, 50)
    for seq, pts in enumerate(parts, start=1):
        if seq == 5:
            assert api.post(f"/activities/{activity_id}/pause", headers=headers).json()["paused"] is True
        if seq == 8:
            assert api.post(f"/activities/{activity_id}/resume", headers=headers).json()["paused"] is False
        assert send(api, headers, activity_id, seq, pts).status_code == 200
    a = api.post(f"/activities/{activity_id}/finish", headers=headers).json()
    # paused at t=199 (after batch 4), resumed at t=349 (after batch 7): those 150 s (600 m) do not count
    assert a["distance"] == pytest.approx(2400 - 600, rel=0.01)
    assert a["moving_time"] == pytest.approx(600 - 150, abs=2)


def test_share_link_lets_a_follower_read_until_revoked_or_finished(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    activity_id = start(api, headers)
    send(api, headers, activity_id, 1, batches(oval_run(laps=1), 30)[0])
    share = api.post(f"/activities/{activity_id}/share", headers=headers)
    assert share.status_code == 201, share.text
    token, share_id = share.json()["token"], share.json()["share_id"]
    followed = api.get(f"/activities/{activity_id}/live", params={"share": token})
    assert followed.status_code == 200 and followed.json()["points_received"] == 30
    assert api.get(f"/activities/{uuid.uuid4()}/live", params={"share": token}).status_code == 404
    assert api.get(f"/activities/{activity_id}/live").status_code == 401
    assert api.delete(f"/activities/{activity_id}/share/{share_id}", headers=headers).status_code == 204
    assert api.get(f"/activities/{activity_id}/live", params={"share": token}).status_code == 404
    second = api.post(f"/activities/{activity_id}/share", headers=headers).json()["token"]
    assert api.get(f"/activities/{activity_id}/live", params={"share": second}).status_code == 200
    api.post(f"/activities/{activity_id}/finish", headers=headers)
    assert api.get(f"/activities/{activity_id}/live", params={"share": second}).status_code == 404


def test_another_users_live_workout_is_not_found(api: httpx.Client, athlete) -> None:
    _, owner = athlete
    _, stranger = register_and_login(api)
    activity_id = start(api, owner)
    pts = batches(oval_run(laps=1), 10)[0]
    assert send(api, stranger, activity_id, 1, pts).status_code == 404
    for method, path in [("GET", "live"), ("POST", "finish"), ("POST", "share"), ("POST", "pause")]:
        assert api.request(method, f"/activities/{activity_id}/{path}", headers=stranger).status_code == 404, path
    assert api.delete(f"/activities/{activity_id}", headers=stranger).status_code == 404
    assert send(api, owner, activity_id, 1, pts).json()["acked_seq"] == 1


def test_delete_discards_a_live_workout_and_its_samples(api: httpx.Client, athlete, settings: Settings) -> None:
    _, headers = athlete
    activity_id = start(api, headers)
    send(api, headers, activity_id, 1, batches(oval_run(laps=1), 10)[0])
    assert stored_chunks(settings, activity_id) == 1
    assert api.delete(f"/activities/{activity_id}", headers=headers).status_code == 204
    assert api.get(f"/activities/{activity_id}", headers=headers).status_code == 404
    assert stored_chunks(settings, activity_id) == 0


def test_websocket_owner_streams_batches_and_a_follower_sees_updates(api: httpx.Client, athlete, serve_app: str) -> None:
    _, headers = athlete
    token = headers["Authorization"].split()[1]
    activity_id = start(api, headers)
    share = api.post(f"/activities/{activity_id}/share", headers=headers).json()["token"]
    ws_base = serve_app.replace("http://", "ws://")
    parts = batches(oval_run(laps=1), 20)
    with ws_connect(f"{ws_base}/activities/{activity_id}/live?access_token={token}") as owner, \
            ws_connect(f"{ws_base}/activities/{activity_id}/live?share={share}") as follower:
        assert json.loads(owner.recv(timeout=10))["type"] == "metrics"
        assert json.loads(follower.recv(timeout=10))["points_received"] == 0
        owner.send(json.dumps({"type": "samples", "seq": 1, "points": parts[0]}))
        replies = [json.loads(owner.recv(timeout=10)) for _ in range(2)]
        ack = next(m for m in replies if m["type"] == "ack")
        assert ack["acked_seq"] == 1
        update = json.loads(follower.recv(timeout=10))
        assert update["type"] == "metrics" and update["points_received"] == 20
        follower.send(json.dumps({"type": "samples", "seq": 2, "points": parts[1]}))
        assert json.loads(follower.recv(timeout=10))["status"] == 403
        owner.send(json.dumps({"type": "samples", "seq": 2}))
        errors = [json.loads(owner.recv(timeout=10)) for _ in range(1)]
        assert errors[0]["type"] == "error" and errors[0]["status"] == 422
    with pytest.raises(Exception):
        with ws_connect(f"{ws_base}/activities/{activity_id}/live?access_token=nonsense") as bad:
            bad.recv(timeout=5)


def test_an_idle_workout_finishes_by_itself(api: httpx.Client, athlete, settings: Settings) -> None:
    _, headers = athlete
    activity_id = start(api, headers)
    send(api, headers, activity_id, 1, batches(oval_run(laps=1), 30)[0])
    deadline = time.monotonic() + settings.live_idle_finish_s + 30
    while time.monotonic() < deadline:
        if api.get(f"/activities/{activity_id}", headers=headers).json()["status"] == "saved":
            break
        time.sleep(1)
    a = api.get(f"/activities/{activity_id}", headers=headers).json()
    assert a["status"] == "saved" and a["points_count"] == 30


def _owning_shard(settings: Settings, activity_id: str):
    import ray

    from actors.gateway import shard_for
    from actors.topology import Topology

    names = Topology.for_settings(settings).workout_shards
    return ray.get_actor(names[shard_for(uuid.UUID(activity_id), len(names))], namespace=settings.ray_namespace)


def _send_until_acked(api: httpx.Client, headers: dict[str, str], activity_id: str, seq: int, pts: list[dict]) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        r = send(api, headers, activity_id, seq, pts)
        if r.status_code == 200:
            return r.json()
        assert r.status_code == 503, r.text  # the shard is restarting: the client retries
        assert r.headers.get("retry-after")
        time.sleep(0.5)
    raise AssertionError(f"batch {seq} never acknowledged")


def test_killing_the_shard_mid_workout_loses_no_acknowledged_sample(api: httpx.Client, athlete, settings: Settings) -> None:
    import ray

    _, headers = athlete
    points = oval_run(laps=8)
    parts = batches(points, 20)
    activity_id = start(api, headers)
    half = len(parts) // 2
    for seq in range(1, half + 1):
        assert send(api, headers, activity_id, seq, parts[seq - 1]).json()["acked_seq"] == seq
    ray.kill(_owning_shard(settings, activity_id), no_restart=False)
    replay = _send_until_acked(api, headers, activity_id, 3, parts[2])  # the rebuilt session knows batch 3
    assert replay["duplicate"] is True and replay["acked_seq"] == half
    for seq in range(half + 1, len(parts) + 1):
        assert _send_until_acked(api, headers, activity_id, seq, parts[seq - 1])["acked_seq"] == seq
    assert stored_chunks(settings, activity_id) == len(parts)
    live = api.get(f"/activities/{activity_id}/live", headers=headers).json()
    assert live["points_received"] == len(points)
    finished = api.post(f"/activities/{activity_id}/finish", headers=headers).json()
    uploaded_id = api.post("/activities", json=upload_body(points, start=dt.datetime.fromisoformat(START)),
                           headers=headers).json()["activity_id"]
    assert_same_metrics(finished, api.get(f"/activities/{uploaded_id}", headers=headers).json())


def test_an_idle_workout_no_shard_holds_is_finished_by_the_janitor(api: httpx.Client, athlete, settings: Settings) -> None:
    import ray

    _, headers = athlete
    activity_id = start(api, headers)
    send(api, headers, activity_id, 1, batches(oval_run(laps=1), 25)[0])
    assert ray.get(_owning_shard(settings, activity_id).evict.remote(uuid.UUID(activity_id))) is True
    deadline = time.monotonic() + settings.live_idle_finish_s + 40
    while time.monotonic() < deadline:
        if api.get(f"/activities/{activity_id}", headers=headers).json()["status"] == "saved":
            break
        time.sleep(1)
    a = api.get(f"/activities/{activity_id}", headers=headers).json()
    assert a["status"] == "saved" and a["points_count"] == 25
