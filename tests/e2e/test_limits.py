"""Input and resource limits over HTTP (issue 9, items 5-7): authentication before parsing, body caps counted as
bytes arrive (chunked and compressed bodies too, every route), and bounded sample times."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import psycopg
import pytest
import zstandard

from config.settings import Settings
from loadtest.synthetic import oval_run, upload_body
from tests.e2e.conftest import register_and_login


@pytest.fixture()
def athlete(api: httpx.Client) -> tuple[str, dict[str, str]]:
    return register_and_login(api)


def _count(settings: Settings, user_id: str) -> int:
    with psycopg.connect(settings.pg_dsn()) as conn:
        return conn.execute("SELECT count(*) FROM activities WHERE user_id = %s", (user_id,)).fetchone()[0]


def _chunks(total: int, piece: int = 256 * 1024) -> Iterator[bytes]:
    """A body of `total` bytes sent with Transfer-Encoding: chunked (no Content-Length)."""
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        sent += n
        yield b" " * n


def test_an_anonymous_upload_is_refused_before_its_body_is_parsed(api: httpx.Client) -> None:
    # an invalid body would be a 422 if it were parsed first; it must be a 401
    r = api.post(
        "/activities",
        content=b'{"type": "jousting", "start_time": "yesterday"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = api.post("/activities", content=b"\x00not json at all", headers={"Content-Type": "application/json"})
    assert r.status_code == 401


def test_a_chunked_upload_past_the_cap_is_413_and_stores_nothing(
    api: httpx.Client, athlete, settings: Settings
) -> None:
    user_id, headers = athlete
    r = api.post(
        "/activities",
        content=_chunks(settings.max_body_bytes + 1024 * 1024),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert "content-length" not in {k.lower() for k in r.request.headers}  # it really was sent chunked
    assert _count(settings, user_id) == 0


def test_a_declared_length_past_the_cap_is_refused_at_once(api: httpx.Client, athlete, settings: Settings) -> None:
    _, headers = athlete
    body = b" " * (settings.max_body_bytes + 1)
    r = api.post("/activities", content=body, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 413


def test_small_routes_have_a_small_cap_chunked_or_not(api: httpx.Client, athlete, settings: Settings) -> None:
    _user_id, headers = athlete
    big = settings.max_small_body_bytes + 1
    for content in (b" " * big, _chunks(big, 4096)):
        r = api.post("/goals", content=content, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 413, r.text
    # a login form is a small route too (multipart included)
    r = api.post(
        "/auth/login",
        files={"username": (None, "x@example.com"), "password": (None, "p" * big), "grant_type": (None, "password")},
    )
    assert r.status_code == 413


def test_a_gzip_bomb_stops_at_the_cap(api: httpx.Client, athlete, settings: Settings) -> None:
    user_id, headers = athlete
    bomb = gzip.compress(b" " * (settings.max_body_bytes * 4), compresslevel=9)
    assert len(bomb) < settings.max_body_bytes // 100
    r = api.post(
        "/activities", content=bomb, headers={**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert r.status_code == 413 and "decoded" in r.json()["error"]["message"]
    assert _count(settings, user_id) == 0


def test_zstd_bodies_are_accepted_and_bad_encodings_refused(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    raw = json.dumps(upload_body(oval_run(laps=2))).encode()
    r = api.post(
        "/activities",
        content=zstandard.ZstdCompressor().compress(raw),
        headers={**headers, "Content-Type": "application/json", "Content-Encoding": "zstd"},
    )
    assert r.status_code == 201, r.text
    r = api.post(
        "/activities", content=raw, headers={**headers, "Content-Type": "application/json", "Content-Encoding": "br"}
    )
    assert r.status_code == 415
    r = api.post(
        "/activities",
        content=b"definitely not gzip",
        headers={**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 400


def test_points_far_apart_in_time_are_refused_not_processed(api: httpx.Client, athlete, settings: Settings) -> None:
    user_id, headers = athlete
    body = upload_body([{"time": 0.0, "power": 200.0}, {"time": 1e8, "power": 200.0}], sport="cycling")
    r = api.post("/activities", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["field"] == "data_points.1.time"
    within = upload_body(
        [{"time": 0.0, "power": 200.0}, {"time": settings.max_span_s - 1, "power": 200.0}], sport="cycling"
    )
    assert api.post("/activities", json=within, headers=headers).status_code == 201
    assert _count(settings, user_id) == 1


def test_columnar_streams_upload_measures_like_data_points(api: httpx.Client, athlete) -> None:
    _, headers = athlete
    points = oval_run(laps=5)
    keys = ("time", "lat", "lng", "altitude", "heart_rate", "cadence")
    columnar = {
        "type": "running",
        "start_time": upload_body(points)["start_time"],
        "streams": {k: [p.get(k) for p in points] for k in keys},
    }
    a = api.post("/activities", json=upload_body(points), headers=headers).json()["activity_id"]
    b = api.post("/activities", json=columnar, headers=headers)
    assert b.status_code == 201, b.text
    ra = api.get(f"/activities/{a}", headers=headers).json()
    rb = api.get(f"/activities/{b.json()['activity_id']}", headers=headers).json()
    for key in ("distance", "moving_time", "heart_rate_avg", "points_count", "route_polyline"):
        assert ra[key] == rb[key], key
    short = {**columnar, "streams": {**columnar["streams"], "lat": columnar["streams"]["lat"][:-1]}}
    bad = api.post("/activities", json=short, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "streams.lat"


def test_a_websocket_message_past_the_cap_closes_the_socket_with_1009(
    api: httpx.Client, athlete, serve_app: str, settings: Settings
) -> None:
    from tests.e2e.test_live import messages_until_closed, next_of, owner_socket, start, token_of

    _, headers = athlete
    activity_id = start(api, headers)
    with owner_socket(serve_app, activity_id, token_of(headers), max_size=None) as ws:
        next_of(ws, "metrics")
        ws.send(
            json.dumps(
                {"type": "samples", "seq": 1, "points": [], "padding": "x" * (settings.max_ws_message_bytes + 1)}
            )
        )
        _, code = messages_until_closed(ws)
    assert code == 1009
