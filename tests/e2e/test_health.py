"""Health, readiness, docs, the error envelope and request ids, over HTTP against the Serve app."""

from __future__ import annotations

import httpx


def test_health_answers_ok(api: httpx.Client) -> None:
    r = api.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_ready_reports_all_four_checks_ok(api: httpx.Client) -> None:
    r = api.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "checks": {"postgres": "ok", "cassandra": "ok", "redis": "ok", "actors": "ok"}}


def test_every_response_has_a_request_id_and_keeps_the_clients(api: httpx.Client) -> None:
    assert api.get("/health").headers.get("x-request-id")
    assert api.get("/nowhere").headers.get("x-request-id")
    assert api.get("/health", headers={"X-Request-ID": "trace-42"}).headers["x-request-id"] == "trace-42"


def test_unknown_route_gives_404_in_the_error_envelope(api: httpx.Client) -> None:
    r = api.get("/no/such/route")
    assert r.status_code == 404
    body = r.json()
    assert body["error"]["code"] == "not_found"
    assert set(body["error"]) == {"code", "message", "details"}


def test_wrong_method_gives_405_in_the_error_envelope(api: httpx.Client) -> None:
    r = api.delete("/health")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_openapi_and_docs_are_served(api: httpx.Client) -> None:
    spec = api.get("/openapi.json")
    assert spec.status_code == 200
    assert "/ready" in spec.json()["paths"]
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
