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
    ("GET", "/users/{user_id}/activities", None),
    ("GET", "/activities/{activity_id}", None),
    ("GET", "/activities/{activity_id}/streams", None),
    ("PATCH", "/activities/{activity_id}", {"name": "Mallory was here"}),
    ("DELETE", "/activities/{activity_id}", None),
    ("POST", "/activities/{live_id}/samples", {"seq": 2, "points": [{"time": 5.0, "heart_rate": 99}]}),
    ("GET", "/activities/{live_id}/live", None),
    ("POST", "/activities/{live_id}/pause", None),
    ("POST", "/activities/{live_id}/resume", None),
    ("POST", "/activities/{live_id}/share", None),
    ("DELETE", "/activities/{live_id}/share/{share_id}", None),
    ("POST", "/activities/{live_id}/finish", None),
    ("DELETE", "/activities/{live_id}", None),
    ("GET", "/users/{user_id}/stats", None),
    ("GET", "/users/{user_id}/records", None),
    ("GET", "/users/{user_id}/progress", None),
    ("GET", "/users/{user_id}/goals", None),
    (
        "POST",
        "/goals",
        {"user_id": "{user_id}", "goal_type": "weekly_count", "target_value": 1, "start_date": "2026-01-01"},
    ),
    ("PATCH", "/goals/{goal_id}", {"target_value": 1}),
    ("DELETE", "/goals/{goal_id}", None),
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
    h = acct.headers
    activity = api.post(
        "/activities",
        headers=h,
        json={
            "type": "running",
            "start_time": "2026-10-01T07:00:00Z",
            "data_points": [
                {"time": float(i), "lat": 46.0 + i * 1e-5, "lng": 14.5, "heart_rate": 140} for i in range(30)
            ],
        },
    )
    live = api.post("/activities/start", headers=h, json={"type": "running"})
    assert activity.status_code == 201 and live.status_code == 201, (activity.text, live.text)
    live_id = live.json()["activity_id"]
    api.post(f"/activities/{live_id}/samples", headers=h, json={"seq": 1, "points": [{"time": 1.0, "heart_rate": 120}]})
    share = api.post(f"/activities/{live_id}/share", headers=h)
    goal = api.post(
        "/goals",
        headers=h,
        json={
            "user_id": acct.user_id,
            "goal_type": "weekly_distance",
            "target_value": 10000,
            "start_date": "2026-01-01",
        },
    )
    assert share.status_code == 201 and goal.status_code == 201, (share.text, goal.text)
    return Victim(
        acct,
        {
            "user_id": acct.user_id,
            "device_id": dev.json()["device_id"],
            "activity_id": activity.json()["activity_id"],
            "live_id": live_id,
            "share_id": share.json()["share_id"],
            "goal_id": goal.json()["goal_id"],
        },
    )


@pytest.fixture()
def mallory(api: httpx.Client) -> Account:
    return new_account(api, name="Mallory")


def _call(
    api: httpx.Client,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict | None,
    ids: dict[str, str] | None = None,
) -> httpx.Response:
    if body and ids:
        body = {k: v.format_map(ids) if isinstance(v, str) else v for k, v in body.items()}
    return api.request(method, path, headers=headers, json=body)


def _victim_state(api: httpx.Client, victim: Victim) -> tuple:
    h = victim.account.headers
    me = api.get("/users/me", headers=h)
    devices = api.get("/users/me/devices", headers=h)
    assert me.status_code == 200 and devices.status_code == 200
    state = [me.json(), devices.json()]
    if "activity_id" in victim.ids:
        activity = api.get(f"/activities/{victim.ids['activity_id']}", headers=h).json()
        live = api.get(f"/activities/{victim.ids['live_id']}/live", headers=h).json()
        goals = api.get(f"/users/{victim.ids['user_id']}/goals", headers=h).json()
        state += [
            {k: activity[k] for k in ("name", "version", "type")},
            {k: live[k] for k in ("points_received", "paused", "acked_seq")},
            [(g["goal_id"], g["target_value"]) for g in goals],
        ]
    return tuple(state)


@pytest.mark.parametrize("method, template, body", ROUTES, ids=_IDS)
def test_other_users_resource_is_404_like_a_missing_one(
    api: httpx.Client, victim: Victim, mallory: Account, method: str, template: str, body: dict | None
) -> None:
    before = _victim_state(api, victim)
    theirs = _call(api, method, template.format_map(victim.ids), mallory.headers, body, victim.ids)
    fake = {k: str(uuid.uuid4()) for k in victim.ids}
    missing = _call(api, method, template.format_map(fake), mallory.headers, body, fake)
    assert theirs.status_code in (403, 404), theirs.text
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())  # nothing reveals existence
    assert victim.account.email not in theirs.text
    assert _victim_state(api, victim) == before  # nothing changed


@pytest.mark.parametrize(
    "method, template, body",
    [r for r in ROUTES if "{device_id}" in r[1]],
    ids=[i for i, r in zip(_IDS, ROUTES, strict=True) if "{device_id}" in r[1]],
)
def test_other_users_device_under_my_own_id_is_404(
    api: httpx.Client, victim: Victim, mallory: Account, method: str, template: str, body: dict | None
) -> None:
    before = _victim_state(api, victim)
    r = _call(api, method, template.format_map({**victim.ids, "user_id": mallory.user_id}), mallory.headers, body)
    assert r.status_code == 404, r.text
    assert _victim_state(api, victim) == before


@pytest.mark.parametrize("method, template, body", ROUTES, ids=_IDS)
def test_every_route_needs_a_token(
    api: httpx.Client, victim: Victim, method: str, template: str, body: dict | None
) -> None:
    r = _call(api, method, template.format_map(victim.ids), {}, body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method, template, body", ROUTES, ids=_IDS)
def test_me_alias_and_own_id_are_allowed(
    api: httpx.Client, victim: Victim, method: str, template: str, body: dict | None
) -> None:
    r = _call(
        api, method, template.format_map({**victim.ids, "user_id": "me"}), victim.account.headers, body, victim.ids
    )
    assert r.status_code < 300, r.text
