"""Login, token rotation and reuse detection, logout, and every way an access token must be refused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid

import httpx
import jwt
import psycopg
import pytest
import redis

from config.settings import Settings
from storage.redis_store import build_sync_redis
from tests.e2e.conftest import DEFAULT_PASSWORD, fake_ip, login, new_account, register, unique_email


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _assert_invalid_token(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert r.json()["error"]["code"] == "invalid_token"


def _redis(settings: Settings) -> redis.Redis:
    return build_sync_redis(settings)


def test_json_login_returns_a_bearer_pair(api: httpx.Client, settings: Settings) -> None:
    acct = new_account(api)
    r = login(api, acct.email.upper())
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 900 == settings.access_token_ttl_s
    assert r.headers["cache-control"] == "no-store"
    claims = _claims(body["access_token"])
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
    assert claims["sub"] == acct.user_id and claims["iss"] == settings.jwt_issuer
    assert claims["exp"] - claims["iat"] == 900 and claims["jti"] and uuid.UUID(claims["sid"])
    assert api.get("/users/me", headers=_bearer(body["access_token"])).json()["user_id"] == acct.user_id


def test_oauth2_password_grant_form_login(api: httpx.Client) -> None:
    acct = new_account(api)
    r = api.post(
        "/auth/login",
        data={"grant_type": "password", "username": acct.email, "password": acct.password},
        headers={"X-Forwarded-For": fake_ip()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    assert api.get("/users/me", headers=_bearer(r.json()["access_token"])).status_code == 200


def test_form_login_with_another_grant_type_is_400(api: httpx.Client) -> None:
    acct = new_account(api)
    r = api.post(
        "/auth/login",
        data={"grant_type": "client_credentials", "username": acct.email, "password": acct.password},
        headers={"X-Forwarded-For": fake_ip()},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "unsupported_grant_type"


def test_login_body_errors_are_4xx_envelopes(api: httpx.Client) -> None:
    for kwargs in (
        {"json": {"email": "x@example.com"}},
        {"json": ["x"]},
        {"content": b"{not json"},
        {"data": {"grant_type": "password", "username": "x@example.com"}},
    ):
        r = api.post("/auth/login", headers={"X-Forwarded-For": fake_ip()}, **kwargs)
        assert r.status_code in (400, 422), r.text
        assert set(r.json()["error"]) == {"code", "message", "details"}


def test_wrong_password_and_unknown_email_give_the_same_401(api: httpx.Client) -> None:
    acct = new_account(api)
    wrong = login(api, acct.email, "not-the-password-at-all")
    unknown = login(api, unique_email("ghost"), "not-the-password-at-all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "access_token" not in wrong.text


def test_refresh_rotates_and_the_old_token_stops_working(api: httpx.Client) -> None:
    acct = new_account(api)
    r = api.post("/auth/refresh", json={"refresh_token": acct.refresh_token})
    assert r.status_code == 200, r.text
    pair = r.json()
    assert pair["refresh_token"] != acct.refresh_token and pair["token_type"] == "bearer"
    assert _claims(pair["access_token"])["sid"] == _claims(acct.access_token)["sid"]  # same session (family)
    assert api.get("/users/me", headers=_bearer(pair["access_token"])).status_code == 200
    r2 = api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r2.status_code == 200 and r2.json()["refresh_token"] not in (pair["refresh_token"], acct.refresh_token)


def test_reused_refresh_token_revokes_its_whole_family_but_not_other_sessions(api: httpx.Client) -> None:
    acct = new_account(api)
    other_session = login(api, acct.email).json()
    rotated = api.post("/auth/refresh", json={"refresh_token": acct.refresh_token}).json()
    stolen = api.post("/auth/refresh", json={"refresh_token": acct.refresh_token})  # the attacker replays it
    _assert_invalid_token(stolen)
    # everything of that family is dead: the rotated refresh token and the access tokens, old and new
    _assert_invalid_token(api.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}))
    _assert_invalid_token(api.get("/users/me", headers=_bearer(rotated["access_token"])))
    _assert_invalid_token(api.get("/users/me", headers=acct.headers))
    # another login of the same user is untouched
    assert api.get("/users/me", headers=_bearer(other_session["access_token"])).status_code == 200
    assert api.post("/auth/refresh", json={"refresh_token": other_session["refresh_token"]}).status_code == 200


def test_unknown_refresh_token_is_401(api: httpx.Client) -> None:
    _assert_invalid_token(api.post("/auth/refresh", json={"refresh_token": "made-up-token"}))


def test_refresh_tokens_are_stored_hashed(api: httpx.Client, settings: Settings) -> None:
    acct = new_account(api)
    with psycopg.connect(settings.pg_dsn()) as conn:
        rows = conn.execute("SELECT token_hash FROM refresh_tokens WHERE user_id = %s", (acct.user_id,)).fetchall()
    assert [bytes(r[0]) for r in rows] == [hashlib.sha256(acct.refresh_token.encode()).digest()]


def test_logout_revokes_access_and_refresh_tokens_at_once(api: httpx.Client, settings: Settings) -> None:
    acct = new_account(api)
    assert api.get("/users/me", headers=acct.headers).status_code == 200  # session state now cached as active
    r = api.post("/auth/logout", headers=acct.headers)
    assert r.status_code == 204
    _assert_invalid_token(api.get("/users/me", headers=acct.headers))
    _assert_invalid_token(api.post("/auth/refresh", json={"refresh_token": acct.refresh_token}))
    sid = _claims(acct.access_token)["sid"]
    assert _redis(settings).get(f"u:{acct.user_id}:sess:{sid}") == b"0"
    with psycopg.connect(settings.pg_dsn()) as conn:
        reason = conn.execute("SELECT revoke_reason FROM auth_sessions WHERE session_id = %s", (sid,)).fetchone()[0]
    assert reason == "logout"


def test_session_revoked_in_postgres_is_refused_once_the_cache_entry_is_gone(
    api: httpx.Client, settings: Settings
) -> None:
    acct = new_account(api)
    assert api.get("/users/me", headers=acct.headers).status_code == 200
    sid = _claims(acct.access_token)["sid"]
    with psycopg.connect(settings.pg_dsn()) as conn:
        conn.execute(
            "UPDATE auth_sessions SET revoked_at = now(), revoke_reason = 'admin' WHERE session_id = %s", (sid,)
        )
    _redis(settings).delete(f"u:{acct.user_id}:sess:{sid}")
    _assert_invalid_token(api.get("/users/me", headers=acct.headers))


def _forge(settings: Settings, **claims: object) -> str:
    now = dt.datetime.now(dt.UTC)
    base = {"iat": now, "exp": now + dt.timedelta(minutes=5), "iss": settings.jwt_issuer, "jti": uuid.uuid4().hex}
    return jwt.encode({**base, **claims}, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_forged_with_the_right_secret_works_so_the_refusals_below_mean_something(
    api: httpx.Client, settings: Settings
) -> None:
    acct = new_account(api)
    claims = _claims(acct.access_token)
    assert (
        api.get("/users/me", headers=_bearer(_forge(settings, sub=claims["sub"], sid=claims["sid"]))).status_code == 200
    )


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "tampered",
        "alg_none",
        "wrong_secret",
        "hs512",
        "no_sid",
        "other_issuer",
        "foreign_sid",
        "garbage",
        "empty_signature",
    ],
)
def test_bad_access_tokens_are_401_with_a_bearer_challenge(api: httpx.Client, settings: Settings, case: str) -> None:
    acct = new_account(api)
    victim = new_account(api)
    claims = _claims(acct.access_token)
    sub, sid = claims["sub"], claims["sid"]
    now = dt.datetime.now(dt.UTC)
    header, payload, signature = acct.access_token.split(".")
    secret = settings.jwt_secret.get_secret_value()
    tokens = {
        "expired": _forge(
            settings, sub=sub, sid=sid, iat=now - dt.timedelta(hours=1), exp=now - dt.timedelta(minutes=1)
        ),
        "tampered": f"{header}.{_b64({**claims, 'sub': victim.user_id})}.{signature}",
        "alg_none": jwt.encode({**claims}, None, algorithm="none"),
        "wrong_secret": jwt.encode({**claims}, "x" * 48, algorithm="HS256"),
        "hs512": jwt.encode({**claims}, secret, algorithm="HS512"),
        "no_sid": _forge(settings, sub=sub),
        "other_issuer": _forge(settings, sub=sub, sid=sid, iss="someone-else"),
        "foreign_sid": _forge(settings, sub=victim.user_id, sid=sid),  # victim's id on my session
        "garbage": "not.a.jwt",
        "empty_signature": f"{header}.{payload}.",
    }
    r = api.get("/users/me", headers=_bearer(tokens[case]))
    _assert_invalid_token(r)
    assert victim.user_id not in r.text


def test_missing_or_non_bearer_authorization_is_401_envelope(api: httpx.Client) -> None:
    acct = new_account(api)
    for headers in ({}, {"Authorization": f"Basic {acct.access_token}"}, {"Authorization": "Bearer"}):
        r = api.get("/users/me", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert set(r.json()["error"]) == {"code", "message", "details"}


def test_whoami_names_the_session(api: httpx.Client) -> None:
    acct = new_account(api)
    r = api.get("/auth/whoami", headers=acct.headers)
    assert r.status_code == 200
    assert r.json() == {"user_id": acct.user_id, "session_id": _claims(acct.access_token)["sid"], "device_id": None}


def test_register_then_login_with_a_password_of_exactly_ten_characters(api: httpx.Client) -> None:
    email = unique_email()
    register(api, email=email, password="0123456789")
    assert login(api, email, "0123456789").status_code == 200
    assert login(api, email, DEFAULT_PASSWORD).status_code == 401


def test_a_hash_made_with_older_parameters_is_upgraded_at_login(api: httpx.Client, settings: Settings) -> None:
    from argon2 import PasswordHasher

    acct = new_account(api)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(acct.password)
    with psycopg.connect(settings.pg_dsn()) as conn:
        conn.execute("UPDATE users SET password_hash = %s WHERE user_id = %s", (weak, acct.user_id))
    assert login(api, acct.email, acct.password).status_code == 200
    with psycopg.connect(settings.pg_dsn()) as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE user_id = %s", (acct.user_id,)).fetchone()[0]
    assert stored != weak and f"m={settings.argon2_memory_kib},t={settings.argon2_time_cost}," in stored
    assert login(api, acct.email, acct.password).status_code == 200
