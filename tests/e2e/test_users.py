"""Registration, profile reads and updates over HTTP against the running app and the real stores."""
from __future__ import annotations

import httpx
import psycopg
import pytest

from config.settings import Settings
from tests.e2e.conftest import DEFAULT_PASSWORD, login, new_account, register, unique_email

SECRET_FIELDS = {"password", "password_hash", "token_hash"}


def _password_hash(settings: Settings, user_id: str) -> str:
    with psycopg.connect(settings.pg_dsn()) as conn:
        return conn.execute("SELECT password_hash FROM users WHERE user_id = %s", (user_id,)).fetchone()[0]


def test_register_returns_the_public_profile_and_no_secret(api: httpx.Client, settings: Settings) -> None:
    email = unique_email()
    r = api.post("/users", json={"email": email, "password": DEFAULT_PASSWORD, "name": "Ada", "timezone": "Europe/Paris",
                                 "birth_year": 1990, "sex": "female", "weight_kg": 58.5, "max_hr": 188, "resting_hr": 48})
    assert r.status_code == 201, r.text
    user = r.json()
    assert {"user_id", "email", "name"} <= set(user) and not SECRET_FIELDS & set(user)
    assert DEFAULT_PASSWORD not in r.text
    assert (user["email"], user["name"], user["timezone"], user["max_hr"], user["resting_hr"]) == (
        email, "Ada", "Europe/Paris", 188, 48)
    assert user["preferences"] == {"units": "metric", "week_start": "monday", "default_visibility": "private"}


def test_password_is_stored_as_an_argon2id_hash_with_the_configured_parameters(api: httpx.Client, settings: Settings) -> None:
    user = register(api)
    stored = _password_hash(settings, user["user_id"])
    assert stored.startswith("$argon2id$v=19$")
    assert (f"m={settings.argon2_memory_kib},t={settings.argon2_time_cost},p={settings.argon2_parallelism}"
            in stored)
    assert DEFAULT_PASSWORD not in stored


def test_duplicate_email_is_409_whatever_its_case(api: httpx.Client) -> None:
    email = unique_email("Dup")
    register(api, email=email)
    r = api.post("/users", json={"email": email.upper(), "password": DEFAULT_PASSWORD, "name": "Again"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize("field, value", [
    ("email", "not-an-email"), ("email", "a@b"), ("email", ""), ("password", "short-pw1"), ("name", ""),
    ("timezone", "Mars/Olympus_Mons"), ("birth_year", 1800), ("weight_kg", -3), ("max_hr", 400),
    ("sex", "unknown"), ("password_hash", "$argon2id$forged"),
])
def test_invalid_registration_field_is_422_naming_it(api: httpx.Client, field: str, value: object) -> None:
    body = {"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "X", field: value}
    r = api.post("/users", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["message"]


def test_resting_hr_must_be_below_max_hr(api: httpx.Client) -> None:
    r = api.post("/users", json={"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "X",
                                 "max_hr": 150, "resting_hr": 150})
    assert r.status_code == 422


def test_email_domain_need_not_exist(api: httpx.Client) -> None:
    email = unique_email().replace("example.com", "no-such-domain-for-stride-7f3a9.com")
    assert register(api, email=email)["email"] == email


def test_get_me_and_get_by_id_return_the_same_profile(api: httpx.Client) -> None:
    acct = new_account(api, name="Grace")
    me = api.get("/users/me", headers=acct.headers)
    by_id = api.get(f"/users/{acct.user_id}", headers=acct.headers)
    assert me.status_code == by_id.status_code == 200
    assert me.json() == by_id.json()
    assert me.json()["name"] == "Grace" and me.json()["user_id"] == acct.user_id


def test_profile_routes_need_a_token(api: httpx.Client) -> None:
    acct = new_account(api)
    for r in (api.get("/users/me"), api.get(f"/users/{acct.user_id}"),
              api.patch(f"/users/{acct.user_id}", json={"name": "x"}), api.delete(f"/users/{acct.user_id}")):
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["code"] == "unauthorized"
    assert api.get("/users/me", headers=acct.headers).status_code == 200  # the account is still there


def test_patch_updates_profile_timezone_heart_rate_and_merges_preferences(api: httpx.Client) -> None:
    acct = new_account(api, weight_kg=70)
    r = api.patch(f"/users/{acct.user_id}", headers=acct.headers, json={
        "name": "Renamed", "timezone": "America/New_York", "max_hr": 185, "resting_hr": 52, "weight_kg": None,
        "preferences": {"units": "imperial"}})
    assert r.status_code == 200, r.text
    r = api.patch("/users/me", headers=acct.headers, json={"preferences": {"week_start": "sunday"}})
    assert r.status_code == 200, r.text
    me = api.get("/users/me", headers=acct.headers).json()
    assert (me["name"], me["timezone"], me["max_hr"], me["resting_hr"], me["weight_kg"]) == (
        "Renamed", "America/New_York", 185, 52, None)
    assert me["preferences"] == {"units": "imperial", "week_start": "sunday", "default_visibility": "private"}
    assert me["updated_at"] > me["created_at"]


@pytest.mark.parametrize("body", [
    {"timezone": "Nowhere/Special"}, {"name": None}, {"timezone": None}, {"email": "new@example.com"},
    {"password": "a-new-password"}, {"preferences": {"units": "furlongs"}}, {"max_hr": 1000},
])
def test_patch_rejects_invalid_changes_with_422_and_changes_nothing(api: httpx.Client, body: dict) -> None:
    acct = new_account(api, name="Stable")
    before = api.get("/users/me", headers=acct.headers).json()
    r = api.patch(f"/users/{acct.user_id}", headers=acct.headers, json=body)
    assert r.status_code == 422, r.text
    assert api.get("/users/me", headers=acct.headers).json() == before


def test_patch_checks_resting_hr_against_the_stored_max_hr(api: httpx.Client) -> None:
    acct = new_account(api, max_hr=170)
    r = api.patch("/users/me", headers=acct.headers, json={"resting_hr": 170})
    assert r.status_code == 422
    assert "resting_hr" in r.json()["error"]["message"]


def test_delete_erases_the_account_and_its_tokens(api: httpx.Client, settings: Settings) -> None:
    acct = new_account(api)
    r = api.delete(f"/users/{acct.user_id}", headers=acct.headers)
    assert r.status_code == 204
    assert api.get("/users/me", headers=acct.headers).status_code == 401
    assert api.post("/auth/refresh", json={"refresh_token": acct.refresh_token}).status_code == 401
    assert login(api, acct.email, acct.password).status_code == 401
    with psycopg.connect(settings.pg_dsn()) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE user_id = %s", (acct.user_id,)).fetchone()[0] == 0
    again = register(api, email=acct.email)  # the email is free again
    assert again["user_id"] != acct.user_id
