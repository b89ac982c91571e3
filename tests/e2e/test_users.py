"""Registration (the same answer for a new and a taken email, rate limited, one email key), profile reads and
updates, and deletion over HTTP against the running app and the real stores."""

from __future__ import annotations

import uuid

import httpx
import jwt
import psycopg
import pytest

from config.settings import Settings
from domain.accounts import normalize_email
from services.ratelimits import login_account_key
from storage.redis_store import build_sync_redis
from tests.e2e.conftest import DEFAULT_PASSWORD, client_from, fake_ip, login, new_account, register, unique_email

SECRET_FIELDS = {"password", "password_hash", "token_hash"}


def _password_hash(settings: Settings, user_id: str) -> str:
    with psycopg.connect(settings.pg_dsn()) as conn:
        return conn.execute("SELECT password_hash FROM users WHERE user_id = %s", (user_id,)).fetchone()[0]


def test_register_then_the_profile_has_every_field_and_no_secret(api: httpx.Client, settings: Settings) -> None:
    email = unique_email()
    answer = register(
        api,
        email=email,
        name="Ada",
        timezone="Europe/Paris",
        birth_year=1990,
        sex="female",
        weight_kg=58.5,
        max_hr=188,
        resting_hr=48,
    )
    assert answer["status"] == "accepted" and DEFAULT_PASSWORD not in str(answer)
    tokens = login(api, email).json()
    r = api.get("/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 200, r.text
    user = r.json()
    assert {"user_id", "email", "name"} <= set(user) and not SECRET_FIELDS & set(user)
    assert DEFAULT_PASSWORD not in r.text
    assert (user["email"], user["name"], user["timezone"], user["max_hr"], user["resting_hr"]) == (
        email,
        "Ada",
        "Europe/Paris",
        188,
        48,
    )
    assert user["preferences"] == {"units": "metric", "week_start": "monday", "default_visibility": "private"}


def test_password_is_stored_as_an_argon2id_hash_with_the_configured_parameters(
    api: httpx.Client, settings: Settings
) -> None:
    acct = new_account(api)
    stored = _password_hash(settings, acct.user_id)
    assert stored.startswith("$argon2id$v=19$")
    assert f"m={settings.argon2_memory_kib},t={settings.argon2_time_cost},p={settings.argon2_parallelism}" in stored
    assert DEFAULT_PASSWORD not in stored


def _post_user(api: httpx.Client, ip: str, **body: object) -> httpx.Response:
    with client_from(api, ip) as client:
        return client.post("/users", json={"password": DEFAULT_PASSWORD, "name": "X", **body})


def test_a_taken_email_gets_the_same_answer_as_a_new_one_and_the_account_is_untouched(
    api: httpx.Client, settings: Settings
) -> None:
    """Issue 9 #10: the old registration answered 409 `email_taken` for a taken email (201 with the profile for
    a new one), telling anyone which addresses have accounts."""
    owner = new_account(api, name="Owner")
    stored = _password_hash(settings, owner.user_id)
    fresh = _post_user(api, fake_ip(), email=unique_email())
    taken = _post_user(api, fake_ip(), email=owner.email.upper(), password="attacker-chosen-password", name="Mal")
    assert fresh.status_code == taken.status_code == 202, (fresh.text, taken.text)
    assert fresh.json() == taken.json() and fresh.headers.get("location") == taken.headers.get("location")
    assert _password_hash(settings, owner.user_id) == stored
    assert api.get("/users/me", headers=owner.headers).json()["name"] == "Owner"
    assert login(api, owner.email, "attacker-chosen-password").status_code == 401
    assert login(api, owner.email).status_code == 200
    with psycopg.connect(settings.pg_dsn()) as conn:
        assert (
            conn.execute("SELECT count(*) FROM users WHERE email_key = %s", (owner.email.lower(),)).fetchone()[0] == 1
        )


def test_registration_is_rate_limited_per_client_address(api: httpx.Client, settings: Settings) -> None:
    """Issue 9 #10: registration had no rate limit at all."""
    ip, capacity = fake_ip(), settings.rate_register_ip_capacity
    codes = [_post_user(api, ip, email=unique_email("burst")).status_code for _ in range(capacity)]
    refused = _post_user(api, ip, email=unique_email("burst"))
    assert codes == [202] * capacity
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-limit"] == str(capacity)
    assert _post_user(api, fake_ip(), email=unique_email("other")).status_code == 202  # another address


@pytest.mark.parametrize(
    "first, second",
    [
        ("İnci-{tag}@example.com", "i̇nci-{tag}@example.com"),  # U+0130 / i + U+0307: one address, Unicode-folded
        ("straße-{tag}@example.com", "STRASSE-{tag}@example.com"),
        ("ﬁona-{tag}@example.com", "fiona-{tag}@example.com"),
    ],
)
def test_look_alike_spellings_of_an_email_are_one_account(
    api: httpx.Client, settings: Settings, first: str, second: str
) -> None:
    """Issue 9 #11: Postgres lower() folded `İ` to `i` while Python made it `i̇`: look-alikes could register
    twice and one account had two login buckets. Now one key (NFKC + casefold) everywhere, unique in Postgres."""
    tag = uuid.uuid4().hex[:8]
    first, second = first.format(tag=tag), second.format(tag=tag)
    owner = new_account(api, email=first)
    assert _post_user(api, fake_ip(), email=second, password="another-password-1").status_code == 202
    for spelling in (first, second):
        r = login(api, spelling)
        assert r.status_code == 200, (spelling, r.text)
        assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["sub"] == owner.user_id
    assert login(api, second, "another-password-1").status_code == 401
    with psycopg.connect(settings.pg_dsn()) as conn:
        rows = conn.execute("SELECT email_key FROM users WHERE user_id = %s", (owner.user_id,)).fetchall()
        assert rows == [(normalize_email(first),)] and normalize_email(first) == normalize_email(second)
        assert (
            conn.execute("SELECT count(*) FROM users WHERE email_key = %s", (normalize_email(second),)).fetchone()[0]
            == 1
        )
    key = login_account_key(first)  # both spellings drew from one login bucket: 1 + 2 + 1 logins
    client = build_sync_redis(settings)
    assert float(client.hget(key, "tokens")) < settings.rate_login_account_capacity - 2.5  # split: >= 3


@pytest.mark.parametrize(
    "field, value",
    [
        ("email", "not-an-email"),
        ("email", "a@b"),
        ("email", ""),
        ("password", "short-pw1"),
        ("name", ""),
        ("timezone", "Mars/Olympus_Mons"),
        ("birth_year", 1800),
        ("weight_kg", -3),
        ("max_hr", 400),
        ("sex", "unknown"),
        ("password_hash", "$argon2id$forged"),
    ],
)
def test_invalid_registration_field_is_422_naming_it(api: httpx.Client, field: str, value: object) -> None:
    body = {"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "X", field: value}
    r = api.post("/users", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["message"]


def test_resting_hr_must_be_below_max_hr(api: httpx.Client) -> None:
    r = api.post(
        "/users",
        json={"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "X", "max_hr": 150, "resting_hr": 150},
    )
    assert r.status_code == 422


def test_email_domain_need_not_exist(api: httpx.Client) -> None:
    email = unique_email().replace("example.com", "no-such-domain-for-stride-7f3a9.com")
    acct = new_account(api, email=email)
    assert api.get("/users/me", headers=acct.headers).json()["email"] == email


def test_get_me_and_get_by_id_return_the_same_profile(api: httpx.Client) -> None:
    acct = new_account(api, name="Grace")
    me = api.get("/users/me", headers=acct.headers)
    by_id = api.get(f"/users/{acct.user_id}", headers=acct.headers)
    assert me.status_code == by_id.status_code == 200
    assert me.json() == by_id.json()
    assert me.json()["name"] == "Grace" and me.json()["user_id"] == acct.user_id


def test_profile_routes_need_a_token(api: httpx.Client) -> None:
    acct = new_account(api)
    for r in (
        api.get("/users/me"),
        api.get(f"/users/{acct.user_id}"),
        api.patch(f"/users/{acct.user_id}", json={"name": "x"}),
        api.delete(f"/users/{acct.user_id}"),
    ):
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["code"] == "unauthorized"
    assert api.get("/users/me", headers=acct.headers).status_code == 200  # the account is still there


def test_patch_updates_profile_timezone_heart_rate_and_merges_preferences(api: httpx.Client) -> None:
    acct = new_account(api, weight_kg=70)
    r = api.patch(
        f"/users/{acct.user_id}",
        headers=acct.headers,
        json={
            "name": "Renamed",
            "timezone": "America/New_York",
            "max_hr": 185,
            "resting_hr": 52,
            "weight_kg": None,
            "preferences": {"units": "imperial"},
        },
    )
    assert r.status_code == 200, r.text
    r = api.patch("/users/me", headers=acct.headers, json={"preferences": {"week_start": "sunday"}})
    assert r.status_code == 200, r.text
    me = api.get("/users/me", headers=acct.headers).json()
    assert (me["name"], me["timezone"], me["max_hr"], me["resting_hr"], me["weight_kg"]) == (
        "Renamed",
        "America/New_York",
        185,
        52,
        None,
    )
    assert me["preferences"] == {"units": "imperial", "week_start": "sunday", "default_visibility": "private"}
    assert me["updated_at"] > me["created_at"]


@pytest.mark.parametrize(
    "body",
    [
        {"timezone": "Nowhere/Special"},
        {"name": None},
        {"timezone": None},
        {"email": "new@example.com"},
        {"password": "a-new-password"},
        {"preferences": {"units": "furlongs"}},
        {"max_hr": 1000},
    ],
)
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
    again = new_account(api, email=acct.email)  # the email is free again
    assert again.user_id != acct.user_id
