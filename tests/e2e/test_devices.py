"""Linked devices and their tokens: shown once, stored hashed, good only for uploading as the owner, revocable."""

from __future__ import annotations

import hashlib

import httpx
import psycopg
import pytest

from config.settings import Settings
from tests.e2e.conftest import new_account


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _link(api: httpx.Client, acct, **body: object) -> dict:
    r = api.post(
        f"/users/{acct.user_id}/devices",
        headers=acct.headers,
        json={"kind": "garmin", "external_id": "fenix-7-123", "name": "Fenix", **body},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_link_list_and_get_a_device(api: httpx.Client) -> None:
    acct = new_account(api)
    watch = _link(api, acct)
    phone = _link(api, acct, kind="phone", external_id=None, name="Pixel")
    assert watch["device_token"].startswith("sdt_") and watch["device_token"] != phone["device_token"]
    listed = api.get(f"/users/{acct.user_id}/devices", headers=acct.headers)
    assert listed.status_code == 200
    assert [d["device_id"] for d in listed.json()] == [watch["device_id"], phone["device_id"]]
    assert "device_token" not in listed.text and watch["device_token"] not in listed.text
    one = api.get(f"/users/me/devices/{watch['device_id']}", headers=acct.headers)
    assert one.status_code == 200
    assert {k: one.json()[k] for k in ("kind", "external_id", "name")} == {
        "kind": "garmin",
        "external_id": "fenix-7-123",
        "name": "Fenix",
    }


@pytest.mark.parametrize(
    "body", [{"kind": "toaster"}, {}, {"kind": "garmin", "token_hash": "x"}, {"kind": "phone", "name": ""}]
)
def test_invalid_device_is_422(api: httpx.Client, body: dict) -> None:
    acct = new_account(api)
    r = api.post("/users/me/devices", headers=acct.headers, json=body)
    assert r.status_code == 422, r.text


def test_device_token_is_stored_only_as_a_hash(api: httpx.Client, settings: Settings) -> None:
    acct = new_account(api)
    dev = _link(api, acct)
    with psycopg.connect(settings.pg_dsn()) as conn:
        stored = conn.execute("SELECT token_hash FROM devices WHERE device_id = %s", (dev["device_id"],)).fetchone()[0]
    assert bytes(stored) == hashlib.sha256(dev["device_token"].encode()).digest()


def test_device_token_identifies_its_owner_on_upload_routes(api: httpx.Client) -> None:
    acct = new_account(api)
    dev = _link(api, acct)
    r = api.get("/auth/whoami", headers=_bearer(dev["device_token"]))
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": acct.user_id, "session_id": None, "device_id": dev["device_id"]}
    assert r.headers["x-ratelimit-limit"]  # the owner's API bucket applies to the device too
    listed = api.get("/users/me/devices", headers=acct.headers).json()
    assert listed[0]["last_used_at"] is not None


def test_device_token_cannot_use_account_routes(api: httpx.Client) -> None:
    acct = new_account(api)
    dev = _link(api, acct)
    headers = _bearer(dev["device_token"])
    for r in (
        api.get("/users/me", headers=headers),
        api.get(f"/users/{acct.user_id}/devices", headers=headers),
        api.post(f"/users/{acct.user_id}/devices", headers=headers, json={"kind": "phone"}),
        api.delete(f"/users/{acct.user_id}", headers=headers),
        api.post("/auth/logout", headers=headers),
    ):
        assert r.status_code == 401, r.text
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert api.get("/users/me", headers=acct.headers).status_code == 200


def test_unlinking_revokes_the_device_token_and_only_that_one(api: httpx.Client) -> None:
    acct = new_account(api)
    gone, kept = _link(api, acct), _link(api, acct, kind="wahoo", external_id="elemnt")
    r = api.delete(f"/users/{acct.user_id}/devices/{gone['device_id']}", headers=acct.headers)
    assert r.status_code == 204
    r = api.get("/auth/whoami", headers=_bearer(gone["device_token"]))
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert api.get("/auth/whoami", headers=_bearer(kept["device_token"])).status_code == 200
    assert api.get(f"/users/me/devices/{gone['device_id']}", headers=acct.headers).status_code == 404
    assert api.delete(f"/users/me/devices/{gone['device_id']}", headers=acct.headers).status_code == 404
    assert [d["device_id"] for d in api.get("/users/me/devices", headers=acct.headers).json()] == [kept["device_id"]]


def test_forged_device_token_is_401(api: httpx.Client) -> None:
    r = api.get("/auth/whoami", headers=_bearer("sdt_" + "A" * 43))
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
