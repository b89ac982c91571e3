"""Rate-limit pieces without a live Redis: reply decoding, headers, and the fail-open / fail-closed policy."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from config.settings import Settings
from serve_app.errors import ApiError
from serve_app.ratelimit import (
    BucketResult, api_key, limit_api, limit_login, login_account_key, login_ip_key, result_from_script,
)
from storage.redis_store import build_redis

DEAD_REDIS = Settings(redis_port=1, redis_timeout_s=0.2)  # nothing listens on port 1


def test_script_reply_is_decoded_to_whole_tokens_and_seconds() -> None:
    ok = result_from_script([1, b"4.75", 0, 5250], capacity=10)
    assert ok == BucketResult(allowed=True, limit=10, remaining=4, retry_after_s=0, reset_s=6)
    refused = result_from_script([0, b"0.2", 1600, 19600], capacity=10)
    assert (refused.allowed, refused.remaining, refused.retry_after_s, refused.reset_s) == (False, 0, 2, 20)
    assert result_from_script([0, "0.99", 10, 100], capacity=1).retry_after_s == 1  # never "retry after 0"


def test_headers_only_carry_retry_after_when_refused() -> None:
    ok = BucketResult(True, 10, 3, 0, 7).headers()
    assert ok == {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "7"}
    assert BucketResult(False, 10, 0, 4, 9).headers()["Retry-After"] == "4"


def test_keys_put_user_buckets_under_the_erasable_prefix() -> None:
    uid = uuid.uuid4()
    assert api_key(uid).startswith(f"u:{uid}:")
    assert login_ip_key("203.0.113.9") == "rl:login:ip:203.0.113.9"
    assert login_account_key("A@B.com").startswith("rl:login:acct:") and "b.com" not in login_account_key("A@B.com")


def test_api_fails_open_when_redis_is_down() -> None:
    async def go() -> object:
        client = build_redis(DEAD_REDIS)
        try:
            return await limit_api(client, DEAD_REDIS, uuid.uuid4())
        finally:
            await client.aclose()

    assert asyncio.run(go()) is None


def test_login_fails_closed_with_503_when_redis_is_down() -> None:
    async def go() -> None:
        client = build_redis(DEAD_REDIS)
        try:
            await limit_login(client, DEAD_REDIS, "203.0.113.9", "a@example.com")
        finally:
            await client.aclose()

    with pytest.raises(ApiError) as err:
        asyncio.run(go())
    assert err.value.status == 503 and int(err.value.headers["Retry-After"]) > 0
