"""Live workouts over HTTP and WebSocket: batches, acks, gaps, pauses, sharing, finish == upload, shard crashes."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from websockets.sync.client import connect as ws_connect

from config.settings import Settings
from loadtest.synthetic import oval_run, upload_body
from tests.e2e.conftest import fake_ip, new_account, register_and_login

START = "2026-11-05T06:00:00+00:00"
COMPARED = (
    "distance",
    "duration",
    "moving_time",
    "heart_rate_avg",
    "heart_rate_max",
    "elevation_gain",
    "average_pace",
    "max_speed",
    "points_count",
    "route_polyline",
    "summary_polyline",
    "calories",
)


@pytest.fixture()
def athlete(api: httpx.Client) -> tuple[str, dict[str, str]]:
    return register_and_login(api)


def batches(points: list[dict[str, Any]], size: int = 10) -> list[list[dict[str, Any]]]:
    return [points[i : i + size] for i in range(0, len(points), size)]


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


def test_finish_gives_the_same_activity_as_an_upload_of_the_same_points(
    api: httpx.Client, athlete, settings: Settings
) -> None:
    _, headers = athlete
    points = oval_run(laps=6)
    activity_id = start(api, headers)
    parts = batches(points, 25)
    order = list(range(1, len(parts) + 1))
    order[3], order[4] = order[4], order[3]  # out of order
    for seq in [*order, 2, 7]:  # and a couple of duplicates
        assert send(api, headers, activity_id, seq, parts[seq - 1]).status_code == 200
    finished = api.post(f"/activities/{activity_id}/finish", headers=headers)
    assert finished.status_code == 200, finished.text
    live = finished.json()
    assert live["status"] == "saved" and live["activity_id"] == activity_id
    uploaded_id = api.post(
        "/activities", json=upload_body(points, start=dt.datetime.fromisoformat(START)), headers=headers
    ).json()["activity_id"]
    uploaded = api.get(f"/activities/{uploaded_id}", headers=headers).json()
    assert_same_metrics(live, uploaded)
    with psycopg.connect(settings.pg_dsn()) as conn:
        events = conn.execute(
            "SELECT event_type FROM outbox WHERE aggregate_id = %s AND event_type LIKE 'activity_%%'", (activity_id,)
        ).fetchall()
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


def _topology(settings: Settings):
    """The deployed topology: its version is read from the running actors (other sessions may edit the code this
    test session fingerprints after the deploy), its names and hashing are Topology's."""
    import ray

    from actors.topology import PREFIX, Topology

    names = [
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == settings.ray_namespace and a["name"].endswith("-workout-0")
    ]
    assert len(names) == 1, names
    version = names[0].removeprefix(f"{PREFIX}-").removesuffix("-workout-0")
    return Topology.for_settings(settings, version=version)


def _owning_shard(settings: Settings, activity_id: str):
    import ray

    from actors.gateway import shard_for

    names = _topology(settings).workout_shards
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


def _shard_metrics(settings: Settings, activity_id: str, user_id: str) -> dict[str, Any]:
    """The owning shard's own view (not the Redis copy), rebuilding the session if the shard restarted."""
    import ray

    deadline = time.monotonic() + 90
    while True:
        try:
            return ray.get(
                _owning_shard(settings, activity_id).metrics.remote(uuid.UUID(activity_id), uuid.UUID(user_id)),
                timeout=30,
            )
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError, ray.exceptions.GetTimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.parametrize("pauses", ["never", "paused", "resumed"])
def test_killing_the_shard_mid_workout_loses_no_acknowledged_sample(
    api: httpx.Client, athlete, settings: Settings, pauses: str
) -> None:
    import ray

    user_id, headers = athlete
    points = oval_run(laps=8)
    parts = batches(points, 20)
    activity_id = start(api, headers)
    half = len(parts) // 2
    for seq in range(1, half + 1):
        if pauses != "never" and seq == half // 2:
            assert api.post(f"/activities/{activity_id}/pause", headers=headers).status_code == 200
        if pauses == "resumed" and seq == half - 2:
            assert api.post(f"/activities/{activity_id}/resume", headers=headers).status_code == 200
        assert send(api, headers, activity_id, seq, parts[seq - 1]).json()["acked_seq"] == seq
    before = _shard_metrics(settings, activity_id, user_id)
    assert before["distance"] > 0 and before["paused"] is (pauses == "paused")
    ray.kill(_owning_shard(settings, activity_id), no_restart=False)
    after = _shard_metrics(settings, activity_id, user_id)  # issue 9 #19: the rebuilt session measures the same
    for key in ("distance", "moving_time", "elapsed_time", "points_received", "paused", "acked_seq"):
        assert after[key] == pytest.approx(before[key]), key
    replay = _send_until_acked(api, headers, activity_id, 3, parts[2])  # the rebuilt session knows batch 3
    assert replay["duplicate"] is True and replay["acked_seq"] == half
    if pauses == "paused":
        api.post(f"/activities/{activity_id}/resume", headers=headers)
    for seq in range(half + 1, len(parts) + 1):
        assert _send_until_acked(api, headers, activity_id, seq, parts[seq - 1])["acked_seq"] == seq
    assert stored_chunks(settings, activity_id) == len(parts)
    live = api.get(f"/activities/{activity_id}/live", headers=headers).json()
    assert live["points_received"] == len(points)
    finished = api.post(f"/activities/{activity_id}/finish", headers=headers).json()
    if pauses == "never":
        uploaded_id = api.post(
            "/activities", json=upload_body(points, start=dt.datetime.fromisoformat(START)), headers=headers
        ).json()["activity_id"]
        assert_same_metrics(finished, api.get(f"/activities/{uploaded_id}", headers=headers).json())
    else:
        assert 0 < finished["distance"] < 8 * 400


def test_an_idle_workout_no_shard_holds_is_finished_by_the_janitor(
    api: httpx.Client, athlete, settings: Settings
) -> None:
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


# ---------------------------------------------------------------------------------------------- WebSockets


def ws_url(serve_app: str, activity_id: str, share: str | None = None, query: str = "") -> str:
    url = f"{serve_app.replace('http://', 'ws://')}/ws/activities/{activity_id}/live"
    return url + (f"?share={share}" if share else query)


def owner_socket(serve_app: str, activity_id: str, token: str, **kw: Any):
    return ws_connect(ws_url(serve_app, activity_id), subprotocols=["stride.v1", f"bearer.{token}"], **kw)


def messages_until_closed(ws: Any, timeout: float = 20) -> tuple[list[dict[str, Any]], int | None]:
    """Every message until the server closes the socket, and the close code (fails if it stays open)."""
    from websockets.exceptions import ConnectionClosed

    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen.append(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
        except ConnectionClosed as closed:
            return seen, closed.rcvd.code if closed.rcvd else None
        except TimeoutError:
            break
    raise AssertionError(f"socket still open after {timeout} s (got {seen})")


def next_of(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of a type (metrics updates interleave with replies)."""
    for _ in range(200):
        message = json.loads(ws.recv(timeout=10))
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].split()[1]


def test_owner_streams_batches_over_the_socket_with_the_http_rules(
    api: httpx.Client, athlete, serve_app: str, settings: Settings
) -> None:
    _, headers = athlete
    points = oval_run(laps=2)
    parts = batches(points, 20)
    activity_id = start(api, headers)
    share = api.post(f"/activities/{activity_id}/share", headers=headers).json()
    assert share["websocket_url"].startswith(f"/ws/activities/{activity_id}/live?share=")
    with (
        owner_socket(serve_app, activity_id, token_of(headers)) as owner,
        ws_connect(ws_url(serve_app, activity_id, share["token"])) as follower,
    ):
        assert owner.subprotocol == "stride.v1"
        assert json.loads(owner.recv(timeout=10))["type"] == "metrics"
        assert json.loads(follower.recv(timeout=10))["points_received"] == 0

        def ack_for(seq: int, message: dict[str, Any]) -> dict[str, Any]:
            owner.send(json.dumps({"type": "samples", "seq": seq, **message}))
            while True:
                reply = json.loads(owner.recv(timeout=10))
                if reply["type"] in ("ack", "error"):
                    return reply

        first = ack_for(1, {"points": parts[0]})
        assert first == {"type": "ack", "seq": 1, "acked_seq": 1, "missing": [], "highest_seq": 1, "duplicate": False}
        update = json.loads(follower.recv(timeout=10))
        assert update["type"] == "metrics" and update["points_received"] == 20
        gap = ack_for(3, {"points": parts[2]})
        assert (gap["acked_seq"], gap["missing"], gap["highest_seq"]) == (1, [2], 3)
        columns = {
            "time": [p["time"] for p in parts[1]],
            "lat": [p["lat"] for p in parts[1]],
            "lng": [p["lng"] for p in parts[1]],
            "heart_rate": [p["heart_rate"] for p in parts[1]],
        }
        assert ack_for(2, {"streams": columns})["acked_seq"] == 3  # columnar, fills the gap
        again = ack_for(2, {"points": parts[1]})
        assert again["duplicate"] is True and again["acked_seq"] == 3
        for seq in range(4, len(parts) + 1):
            assert ack_for(seq, {"points": parts[seq - 1]})["acked_seq"] == seq
        bad = ack_for(len(parts) + 1, {"points": [{"time": 1.0, "lat": 95.0, "lng": 1.0}]})
        assert (bad["status"], bad["seq"]) == (422, len(parts) + 1)
        ahead = ack_for(500, {"points": parts[0]})
        assert ahead["status"] == 409
        owner.send(json.dumps({"type": "pause"}))
        assert next_of(owner, "pause") == {"type": "pause", "paused": True}
        follower.send(json.dumps({"type": "samples", "seq": 99, "points": parts[0]}))
        assert next_of(follower, "error")["status"] == 403
        assert stored_chunks(settings, activity_id) == len(parts)
        finished = api.post(f"/activities/{activity_id}/finish", headers=headers)
        assert finished.status_code == 200
        for ws in (owner, follower):
            seen, code = messages_until_closed(ws)
            assert code == 1000 and seen[-1]["type"] == "finished"
    assert finished.json()["points_count"] == len(points)


def test_socket_credentials_never_travel_in_the_url(api: httpx.Client, athlete, serve_app: str) -> None:
    _, headers = athlete
    activity_id = start(api, headers)
    token = token_of(headers)
    with ws_connect(ws_url(serve_app, activity_id, query=f"?access_token={token}")) as ws:
        assert messages_until_closed(ws)[1] == 4400
    with ws_connect(ws_url(serve_app, activity_id), subprotocols=["stride.v1", "bearer.nonsense"]) as ws:
        assert messages_until_closed(ws)[1] == 4401
    with ws_connect(ws_url(serve_app, activity_id), subprotocols=["stride.v1"]) as ws:  # the auth message instead
        ws.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(ws.recv(timeout=10))["type"] == "metrics"
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
        ws.send(json.dumps({"type": "auth", "token": token}))  # a fresh token keeps the socket past the old one's exp
        assert next_of(ws, "auth")["expires_at"] == jwt.decode(token, options={"verify_signature": False})["exp"]
        _, stranger = register_and_login(api)
        ws.send(json.dumps({"type": "auth", "token": token_of(stranger)}))  # someone else's token: the socket ends
        seen, code = messages_until_closed(ws)
        assert code == 4401 and seen[-1]["status"] == 401
    with ws_connect(ws_url(serve_app, activity_id)) as ws:  # nothing said: closed after live_ws_auth_timeout_s
        assert messages_until_closed(ws, timeout=30)[1] == 4408
    with owner_socket(serve_app, activity_id, token_of(stranger)) as ws:  # someone else's workout
        assert messages_until_closed(ws)[1] == 4404


def test_logout_closes_the_owners_sockets(api: httpx.Client, serve_app: str) -> None:
    acct = new_account(api)
    activity_id = start(api, acct.headers)
    with owner_socket(serve_app, activity_id, acct.access_token) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "metrics"
        assert api.post("/auth/logout", headers=acct.headers).status_code in (200, 204)
        assert messages_until_closed(ws, timeout=30)[1] == 4401


def test_a_revocation_message_closes_the_matching_sockets_at_once(
    api: httpx.Client, serve_app: str, settings: Settings
) -> None:
    from storage.redis_store import build_sync_redis

    acct = new_account(api)
    activity_id = start(api, acct.headers)
    share = api.post(f"/activities/{activity_id}/share", headers=acct.headers).json()["token"]
    session_id = jwt.decode(acct.access_token, options={"verify_signature": False})["sid"]
    with (
        owner_socket(serve_app, activity_id, acct.access_token) as owner,
        ws_connect(ws_url(serve_app, activity_id, share)) as follower,
    ):
        for ws in (owner, follower):
            assert json.loads(ws.recv(timeout=10))["type"] == "metrics"
        # the accounts contract (services.ports.LiveFeed): a session still valid in Postgres, so only the
        # pub/sub message (not the periodic re-check) can close the owner's socket; the follower's stays open
        build_sync_redis(settings).publish(
            "stride:revocations", json.dumps({"user_id": acct.user_id, "session_id": session_id, "reason": "logout"})
        )
        assert messages_until_closed(owner)[1] == 4401
        follower.send(json.dumps({"type": "ping"}))
        assert next_of(follower, "error")["status"] == 403  # still open


def test_share_revocation_closes_its_followers(api: httpx.Client, athlete, serve_app: str) -> None:
    _, headers = athlete
    activity_id = start(api, headers)
    revoked = api.post(f"/activities/{activity_id}/share", headers=headers).json()
    kept = api.post(f"/activities/{activity_id}/share", headers=headers).json()
    with (
        ws_connect(ws_url(serve_app, activity_id, revoked["token"])) as gone,
        ws_connect(ws_url(serve_app, activity_id, kept["token"])) as stays,
    ):
        for ws in (gone, stays):
            assert json.loads(ws.recv(timeout=10))["type"] == "metrics"
        assert api.delete(f"/activities/{activity_id}/share/{revoked['share_id']}", headers=headers).status_code == 204
        assert messages_until_closed(gone)[1] == 4404
        send(api, headers, activity_id, 1, batches(oval_run(laps=1), 10)[0])
        assert json.loads(stays.recv(timeout=10))["points_received"] == 10
    with ws_connect(ws_url(serve_app, activity_id, revoked["token"])) as again:
        assert messages_until_closed(again)[1] == 4404


def test_an_owner_socket_closes_when_its_access_token_expires(
    api: httpx.Client, serve_app: str, settings: Settings
) -> None:
    from services.tokens import AccessTokens

    acct = new_account(api)
    activity_id = start(api, acct.headers)
    claims = jwt.decode(acct.access_token, options={"verify_signature": False})
    issued = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.access_token_ttl_s - 4)  # 4 s left
    tokens = AccessTokens(settings.jwt_secret.get_secret_value(), settings.jwt_issuer, settings.access_token_ttl_s)
    short = tokens.issue(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), now=issued)
    with owner_socket(serve_app, activity_id, short) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "metrics"
        assert messages_until_closed(ws, timeout=30)[1] == 4401
    with owner_socket(serve_app, activity_id, short) as ws:  # and is refused from then on
        assert messages_until_closed(ws)[1] == 4401


def test_socket_messages_count_against_the_users_rate_limit(
    api: httpx.Client, serve_app: str, settings: Settings
) -> None:
    acct = new_account(api)
    activity_id = start(api, acct.headers)
    with owner_socket(serve_app, activity_id, acct.access_token) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "metrics"
        limited = None
        for _ in range(settings.rate_api_capacity + 20):
            ws.send(json.dumps({"type": "ping"}))
            reply = json.loads(ws.recv(timeout=10))
            if reply.get("status") == 429:
                limited = reply
                break
        assert limited is not None and limited["retry_after_s"] >= 1
        assert api.get("/users/me", headers=acct.headers).status_code == 429  # one bucket for HTTP and sockets


def test_a_live_workout_has_a_point_cap(api: httpx.Client, athlete, settings: Settings) -> None:
    _, headers = athlete
    activity_id = start(api, headers)
    full = settings.live_max_points // 600
    for seq in range(1, full + 1):
        pts = [{"time": (seq - 1) * 600 + i, "heart_rate": 120.0} for i in range(600)]
        assert send(api, headers, activity_id, seq, pts).status_code == 200
    over = send(api, headers, activity_id, full + 1, [{"time": full * 600 + i} for i in range(600)])
    assert over.status_code == 413 and over.json()["error"]["code"] == "payload_too_large"


def test_many_sockets_hold_no_request_slot_nor_redis_connection(
    api: httpx.Client, athlete, serve_app: str, settings: Settings
) -> None:
    """Issue 9 #12 and issue 11: 150+ sockets opened at once all connect, and meanwhile logins and authenticated
    requests on the same stack answer (the rate limiter and session cache still reach Redis); caps refuse the
    socket past them with 4429."""
    import asyncio

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    _, headers = athlete
    activity_id = start(api, headers)
    token = api.post(f"/activities/{activity_id}/share", headers=headers).json()["token"]
    second = api.post(f"/activities/{activity_id}/share", headers=headers).json()["token"]
    cap = settings.live_ws_max_per_share
    per_client = settings.live_ws_max_per_client
    assert cap > 100 and cap >= 150
    sources = [fake_ip() for _ in range(-(-cap // per_client))]
    url = ws_url(serve_app, activity_id, token)

    async def scenario() -> None:
        async def open_one(i: int) -> Any:
            ws = await connect(url, local_addr=(sources[i % len(sources)], 0), open_timeout=60)
            first = json.loads(await asyncio.wait_for(ws.recv(), 60))
            assert first["type"] == "metrics"
            return ws

        sockets = await asyncio.gather(*(open_one(i) for i in range(cap)))
        try:

            def http_checks() -> None:
                acct = new_account(api)  # a login: its rate limit and session cache need Redis
                me = api.get("/users/me", headers=acct.headers)
                assert me.status_code == 200 and "x-ratelimit-remaining" in me.headers
                assert api.get("/health").status_code == 200
                assert send(api, headers, activity_id, 1, batches(oval_run(laps=1), 10)[0]).status_code == 200

            await asyncio.to_thread(http_checks)
            updates = await asyncio.gather(*(asyncio.wait_for(ws.recv(), 30) for ws in sockets[:20]))
            assert all(json.loads(u)["points_received"] == 10 for u in updates)  # one subscription, fanned out
            extra = await connect(url, local_addr=(fake_ip(), 0))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(extra.recv(), 20)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
            # the per-address cap: one address opens up to its cap on another link, then is refused
            crowded = sources[0]
            held = sum(1 for i in range(cap) if sources[i % len(sources)] == crowded)
            more = [
                await connect(ws_url(serve_app, activity_id, second), local_addr=(crowded, 0))
                for _ in range(per_client - held)
            ]
            for ws in more:
                assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] in ("metrics",)
            refused = await connect(ws_url(serve_app, activity_id, second), local_addr=(crowded, 0))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(refused.recv(), 20)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
            await asyncio.gather(*(ws.close() for ws in more))
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    asyncio.run(scenario())


def test_ending_a_users_workouts_closes_their_sessions_and_sockets(
    api: httpx.Client, serve_app: str, settings: Settings
) -> None:
    """Issue 9 #15, the live part of erasure: WorkoutShardsGateway.end_user reaches every shard; the user's open
    workouts stop taking samples and their sockets close; every partition written is recorded for the purge."""
    import asyncio

    import ray

    from actors.gateway import WorkoutShardsGateway

    acct = new_account(api)
    activity_id = start(api, acct.headers)
    share = api.post(f"/activities/{activity_id}/share", headers=acct.headers).json()["token"]
    send(api, acct.headers, activity_id, 1, batches(oval_run(laps=1), 10)[0])
    names = _topology(settings).workout_shards
    gateway = WorkoutShardsGateway([ray.get_actor(n, namespace=settings.ray_namespace) for n in names])
    with (
        owner_socket(serve_app, activity_id, acct.access_token) as owner,
        ws_connect(ws_url(serve_app, activity_id, share)) as follower,
    ):
        for ws in (owner, follower):
            assert json.loads(ws.recv(timeout=10))["type"] == "metrics"
        closed = asyncio.run(gateway.end_user(uuid.UUID(acct.user_id)))
        assert closed == [uuid.UUID(activity_id)]
        for ws in (owner, follower):
            seen, code = messages_until_closed(ws)
            assert code == 1000 and seen[-1]["type"] == "discarded"
    assert send(api, acct.headers, activity_id, 2, batches(oval_run(laps=1), 10)[1]).status_code == 404
    with psycopg.connect(settings.pg_dsn()) as conn:
        (buckets,) = conn.execute(
            "SELECT sample_buckets FROM activities WHERE activity_id = %s", (activity_id,)
        ).fetchone()
    assert buckets == [0] and stored_chunks(settings, activity_id) == 1  # what erasure queues for the purge
