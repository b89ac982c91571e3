"""Token-bucket rate limits over HTTP (per user on the API, per IP and per account on login) and the Lua bucket itself.

The test app's capacities come from tests/conftest.py::make_test_settings; the tests read them from `settings`.
"""

from __future__ import annotations

import time
import uuid

import httpx

from config.settings import Settings
from services.ratelimits import RateLimits, api_bucket, login_account_key
from storage.redis_store import build_sync_redis
from tests.e2e.conftest import fake_ip, login, new_account, unique_email


def _assert_limited(r: httpx.Response, limit: int) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-limit"] == str(limit)
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert int(r.headers["x-ratelimit-reset"]) >= 1


def test_api_bucket_per_user_allows_its_capacity_then_429(api: httpx.Client, settings: Settings) -> None:
    acct, bystander = new_account(api), new_account(api)
    capacity, rate = settings.rate_api_capacity, settings.rate_api_refill_per_s
    started, allowed, remaining, last = time.monotonic(), 0, [], None
    while allowed <= 3 * capacity:
        last = api.get("/auth/whoami", headers=acct.headers)
        if last.status_code != 200:
            break
        allowed += 1
        remaining.append(int(last.headers["x-ratelimit-remaining"]))
    elapsed = time.monotonic() - started
    _assert_limited(last, capacity)
    assert capacity <= allowed <= capacity + rate * elapsed + 2
    assert remaining[0] == capacity - 1 and remaining[1] == capacity - 2 and min(remaining) == 0
    # every authenticated route is counted, and the bucket is the user's, not the server's
    assert api.get("/users/me", headers=acct.headers).status_code == 429
    ok = api.get("/users/me", headers=bystander.headers)
    assert ok.status_code == 200 and int(ok.headers["x-ratelimit-remaining"]) == capacity - 1


def test_rate_limit_headers_are_on_every_authenticated_response_even_errors(api: httpx.Client) -> None:
    acct = new_account(api)
    first = api.get("/users/me", headers=acct.headers)
    missing = api.get(f"/users/me/devices/{uuid.uuid4()}", headers=acct.headers)  # an error answered by a handler
    assert first.status_code == 200 and missing.status_code == 404
    assert int(missing.headers["x-ratelimit-remaining"]) < int(first.headers["x-ratelimit-remaining"])
    assert missing.headers["x-ratelimit-limit"] == first.headers["x-ratelimit-limit"]
    assert "x-ratelimit-limit" not in api.get("/health").headers


def test_api_bucket_key_lives_under_the_users_prefix(api: httpx.Client, settings: Settings) -> None:
    acct = new_account(api)
    assert api.get("/users/me", headers=acct.headers).status_code == 200
    key = api_bucket(RateLimits(), uuid.UUID(acct.user_id)).key
    assert key.startswith(f"u:{acct.user_id}:")
    client = build_sync_redis(settings)
    full_after_s = settings.rate_api_capacity / settings.rate_api_refill_per_s
    assert client.exists(key) and 0 < client.pttl(key) <= (full_after_s + 2) * 1000


def test_login_per_account_limit_stops_brute_force_even_with_the_right_password(
    api: httpx.Client, settings: Settings
) -> None:
    acct, other = new_account(api), new_account(api)  # each already used one login token
    capacity = settings.rate_login_account_capacity
    codes = [login(api, acct.email, f"guess-number-{i}", fake_ip()).status_code for i in range(capacity - 1)]
    assert codes == [401] * (capacity - 1)
    blocked = login(api, acct.email, acct.password, fake_ip())  # spread over IPs: the account bucket still trips
    _assert_limited(blocked, capacity)
    assert "access_token" not in blocked.text
    assert login(api, acct.email.upper(), acct.password, fake_ip()).status_code == 429  # same account, any case
    assert login(api, other.email, other.password, fake_ip()).status_code == 200


def test_login_per_ip_limit_applies_across_accounts(api: httpx.Client, settings: Settings) -> None:
    acct = new_account(api)  # before the burst: registering takes longer than the bucket needs to refill a token
    ip, capacity, rate = fake_ip(), settings.rate_login_ip_capacity, settings.rate_login_ip_refill_per_s
    started, allowed, last = time.monotonic(), 0, None
    while allowed <= 3 * capacity:
        last = login(api, unique_email("spray"), "password-spraying", ip)
        if last.status_code != 401:
            break
        allowed += 1
    elapsed = time.monotonic() - started
    _assert_limited(last, capacity)
    assert capacity <= allowed <= capacity + rate * elapsed + 1
    assert login(api, acct.email, acct.password, ip).status_code == 429  # a real user behind that IP waits too
    assert login(api, acct.email, acct.password, fake_ip()).status_code == 200


def test_login_account_key_hides_the_email() -> None:
    key = login_account_key("Someone@Example.com")
    assert key == login_account_key("someone@example.com ") and "example" not in key
