"""Access control matrix: another user's id (or their device's id) on every route answers 404, like a missing one.

ROUTES is the one table of routes that take a user's resource id; add new ones here (e.g. /users/{user_id}/activities,
/activities/{activity_id}) with the id placeholders the `victim` fixture fills.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from tests.e2e.conftest import Account, new_account

# (method, path template, JSON body): placeholders are keys of Victim.ids
ROUTES: list[tuple[str, str, dict | None]] = [
    ("GET", "/users/{user_id}", None),
    ("PATCH", "/users/{user_id}", {"name": "Mallory was here"}),
    ("DELETE", "/users/{user_id}", None),
    ("GET", "/users/{user_id}/devices", None),
    ("POST", "/users/{user_id}/devices", {"kind": "phone", "name": "Mallory's phone"}),
    ("GET", "/users/{user_id}/devices/{device_id}", None),
    ("DELETE", "/users/{user_id}/devices/{device_id}", None),
]
_IDS = [f"{m} {p}" for m, p, _ in ROUTES]


@dataclass
class Victim:
    """A user with some data, and the ids of it that routes take."""

    account: Account
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture()
def victim(api: httpx.Client) -> Victim:
    acct = new_account(api, name="Victim")
    dev = api.post("/users/me/devices", headers=acct.headers, json={"kind": "garmin", "name": "Victim's watch"})
    assert dev.status_code == 201, dev.text
    return Victim(acct, {"user_id": acct.user_id, "device_id": dev.json()["device_id"]})


@pytest.fixture()
def mallory(api: httpx.Client) -> Account:
    return new_account(api, name="Mallory")


def _call(api: httpx.Client, method: str, path: str, headers: dict[str, str], body: dict | None) -> httpx.Response:
    return api.request(method, path, headers=headers, json=body)


def _victim_state(api: httpx.Client, victim: Victim) -> tuple:
    me = api.get("/users/me", headers=victim.account.headers)
    devices = api.get("/users/me/devices", headers=victim.account.headers)
    assert me.status_code == 200 and devices.status_code == 200
    return me.json(), devices.json()


@pytest.mark.parametrize("method, template, body", ROUTES, ids=_IDS)
def test_other_users_resource_is_404_like_a_missing_one(api: httpx.Client, victim: Victim, mallory: Account,
                                                        method: str, template: str, body: dict | None) -> None:
    before = _victim_state(api, victim)
    theirs = _call(api, method, template.format_map(victim.ids), mallory.headers, body)
    missing = _call(api, method, template.format_map({k: str(uuid.uuid4()) for k in victim.ids}), mallory.headers, body)
    assert theirs.status_code in (403, 404), theirs.text
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())  # nothing reveals existence
    assert victim.account.email not in theirs.text
    assert _victim_state(api, victim) == before  # nothing changed


@pytest.mark.parametrize("method, template, body", [r for r in ROUTES if "{device_id}" in r[1]],
                         ids=[i for i, r in zip(_IDS, ROUTES) if "{device_id}" in r[1]])
def test_other_users_device_under_my_own_id_is_404(api: httpx.Client, victim: Victim, mallory: Account,
                                                   method: str, template: str, body: dict | None) -> None:
    before = _victim_state(api, victim)
    r = _call(api, method, template.format_map({**victim.ids, "user_id": mallory.user_id}), mallory.headers, body)
    assert r.status_code == 404, r.text
    assert _victim_state(api, victim) == before


@pytest.mark.parametrize("method, template, body", ROUTES, ids=_IDS)
def test_every_route_needs_a_token(api: httpx.Client, victim: Victim, method: str, template: str,
                                   body: dict | None) -> None:
    r = _call(api, method, template.format_map(victim.ids), {}, body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method, template, body", ROUTES, ids=_IDS)
def test_me_alias_and_own_id_are_allowed(api: httpx.Client, victim: Victim, method: str, template: str,
                                         body: dict | None) -> None:
    r = _call(api, method, template.format_map({**victim.ids, "user_id": "me"}), victim.account.headers, body)
    assert r.status_code < 300, r.text
