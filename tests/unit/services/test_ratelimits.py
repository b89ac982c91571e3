"""Rate-limit policy (services/ratelimits.py) and bucket values (domain/ratelimit.py), without a live Redis: the
reply decoding, the headers, the keys, and fail open (API) / fail closed (login, registration) against the real
Redis adapter pointed at a port where nothing listens."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from config.settings import Settings
from domain.errors import RateLimited, Unavailable
from domain.ratelimit import Bucket, BucketResult
from services.fakes.accounts import FakeAuthState
from services.ratelimits import Limiter, RateLimits, api_bucket, login_buckets, register_buckets
from storage.auth_state import RedisAuthState, _result
from storage.redis_store import build_redis

DEAD_REDIS = Settings(jwt_secret="x" * 40, redis_port=1, redis_timeout_s=0.2)  # nothing listens on port 1


def test_script_reply_is_decoded_to_whole_tokens_and_seconds() -> None:
    assert _result([1, b"4.75", 0, 5250], capacity=10) == BucketResult(True, 10, 4, 0, 6)
    refused = _result([0, b"0.2", 1600, 19600], capacity=10)
    assert (refused.allowed, refused.remaining, refused.retry_after_s, refused.reset_s) == (False, 0, 2, 20)
    assert _result([0, "0.99", 10, 100], capacity=1).retry_after_s == 1  # never "retry after 0"


def test_headers_only_carry_retry_after_when_refused() -> None:
    ok = BucketResult(True, 10, 3, 0, 7).headers()
    assert ok == {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "7"}
    assert BucketResult(False, 10, 0, 4, 9).headers()["Retry-After"] == "4"


def test_keys_put_user_buckets_under_the_erasable_prefix_and_never_an_email() -> None:
    uid, limits = uuid.uuid4(), RateLimits()
    assert api_bucket(limits, uid).key.startswith(f"u:{uid}:")
    ip, account = login_buckets(limits, "203.0.113.9", "A@B.com")
    assert ip.key == "rl:login:ip:203.0.113.9"
    assert account.key.startswith("rl:login:acct:") and "b.com" not in account.key
    assert account.key == login_buckets(limits, "x", " a@b.COM ")[1].key
    assert [b.key for b in register_buckets(limits, "203.0.113.9")] == ["rl:register:ip:203.0.113.9", "rl:register:all"]


def test_several_buckets_are_all_or_nothing_and_the_empty_one_is_named() -> None:
    state = FakeAuthState()
    limiter = Limiter(state)
    full, empty = Bucket("a", 5, 1.0), Bucket("b", 1, 0.001)
    asyncio.run(limiter.require([full, empty], ["a things", "b things"], refused="down"))
    with pytest.raises(RateLimited) as err:
        asyncio.run(limiter.require([full, empty], ["a things", "b things"], refused="down"))
    assert "b things" in str(err.value) and err.value.headers["X-RateLimit-Limit"] == "1"
    assert state.keys["a"][0] == 4  # the refused attempt took nothing from the full bucket


def _with_dead_redis(fn):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        client = build_redis(DEAD_REDIS)
        try:
            return await fn(Limiter(RedisAuthState(client)))
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_api_fails_open_when_redis_is_down() -> None:
    assert _with_dead_redis(lambda limiter: limiter.charge(api_bucket(RateLimits(), uuid.uuid4()))) is None


def test_login_fails_closed_with_503_when_redis_is_down() -> None:
    with pytest.raises(Unavailable) as err:
        _with_dead_redis(
            lambda limiter: limiter.require(
                login_buckets(RateLimits(), "203.0.113.9", "a@example.com"),
                ["x", "y"],
                refused="login is temporarily unavailable",
            )
        )
    assert err.value.service == "redis" and int(err.value.headers["Retry-After"]) > 0
    assert err.value.message == "login is temporarily unavailable"
