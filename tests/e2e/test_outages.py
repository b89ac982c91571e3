"""Stopping a real dependency turns /ready to 503 naming it within 5 s; starting it again brings 200 back."""

from __future__ import annotations

import subprocess
import time
import uuid

import httpx
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.disruptive


def _service(name: str, action: str) -> None:
    subprocess.run([str(ROOT / "cluster" / f"{name}.sh"), action], check=True, timeout=300)


def _poll_ready(api: httpx.Client, want_status: int, within_s: float) -> tuple[float, dict]:
    """Until /ready answers want_status; recovery (200) must hold for 10 answers in a row, so every replica behind
    the ingress has recovered, not only the one that answered first."""
    started = time.monotonic()
    body: dict = {}
    streak = 0
    while time.monotonic() - started < within_s:
        r = api.get("/ready", timeout=10)
        body = r.json()
        streak = streak + 1 if r.status_code == want_status else 0
        if streak >= (10 if want_status == 200 else 1):
            return time.monotonic() - started, body
        time.sleep(0.2 if streak == 0 else 0.05)
    raise AssertionError(f"/ready did not answer {want_status} within {within_s}s; last body: {body}")


@pytest.mark.parametrize("service", ["redis", "postgres", "cassandra"])
def test_ready_names_a_stopped_service_and_recovers_without_restarting_the_app(api: httpx.Client, service: str) -> None:
    _poll_ready(api, 200, 30)
    _service(service, "stop")
    try:
        _, body = _poll_ready(api, 503, 5)
        assert body["checks"][service].startswith("error"), body
        assert service in body["error"]["details"]["failing"]
        others = {k: v for k, v in body["checks"].items() if k != service}
        assert all(v == "ok" for v in others.values()), body
    finally:
        _service(service, "start")
    _, body = _poll_ready(api, 200, 30)
    assert body["checks"] == {"postgres": "ok", "cassandra": "ok", "redis": "ok", "actors": "ok"}


def test_upload_while_cassandra_is_down_is_503_and_stores_nothing_then_a_retry_succeeds(
    api: httpx.Client, settings
) -> None:
    import psycopg

    from loadtest.synthetic import oval_run, upload_body
    from tests.e2e.conftest import register_and_login

    user_id, headers = register_and_login(api)
    points = oval_run(laps=2)
    body = upload_body(points, client_id=f"outage-retry-{uuid.uuid4()}")
    _service("cassandra", "stop")
    try:
        r = api.post("/activities", json=body, headers=headers)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"].isdigit()
        assert r.json()["error"]["details"]["service"] == "cassandra"
        with psycopg.connect(settings.pg_dsn()) as conn:
            assert conn.execute("SELECT count(*) FROM activities WHERE user_id = %s", (user_id,)).fetchone() == (0,)
    finally:
        _service("cassandra", "start")
    _poll_ready(api, 200, 30)
    retry = api.post("/activities", json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    assert api.get(f"/activities/{retry.json()['activity_id']}", headers=headers).json()["points_count"] == len(points)


def test_upload_while_postgres_is_down_is_503_not_500(api: httpx.Client) -> None:
    from loadtest.synthetic import oval_run, upload_body
    from tests.e2e.conftest import register_and_login

    _, headers = register_and_login(api)
    _service("postgres", "stop")
    try:
        r = api.post("/activities", json=upload_body(oval_run(laps=1)), headers=headers)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"].isdigit()
    finally:
        _service("postgres", "start")
    _poll_ready(api, 200, 30)
