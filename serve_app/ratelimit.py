"""Token-bucket rate limits in Redis: one atomic Lua script (EVALSHA), per user on the API, per IP and account on login.

Redis down: the API fails open (the request goes through, a warning is logged), login fails closed (503).
Every key about a user starts with `u:{user_id}:` so account erasure removes it with the user's prefix.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from serve_app.errors import RETRY_AFTER_S, ApiError
from storage.redis_store import REDIS_ERRORS

log = logging.getLogger("stride.ratelimit")

# KEYS[1]: the bucket hash {tokens, ts}. ARGV: capacity, refill per second, cost.
# Returns {allowed 0/1, tokens left (string: Lua numbers are truncated on return), retry_after_ms, reset_ms}.
# Time is Redis's own clock, so every replica agrees on it.
TOKEN_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate / 1000)
  ts = now
end
local allowed = 0
local retry_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_ms = math.ceil((cost - tokens) * 1000 / rate)
end
local reset_ms = math.ceil((capacity - tokens) * 1000 / rate)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], reset_ms + 1000)
return {allowed, tostring(tokens), retry_ms, reset_ms}
"""

_MIN_RATE = 1e-6
_WARN_EVERY_S = 10.0
_last_warning = 0.0


class RateLimiterUnavailable(Exception):
    """Redis could not answer the rate-limit script."""


@dataclass(frozen=True)
class BucketResult:
    """The outcome of taking tokens from one bucket."""

    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        """X-RateLimit-* headers (Reset in seconds until the bucket is full), plus Retry-After when refused."""
        out = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
               "X-RateLimit-Reset": str(self.reset_s)}
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after_s)
        return out


def result_from_script(raw: list[Any], capacity: int) -> BucketResult:
    """Turn the Lua script's reply into a BucketResult (whole tokens remaining, whole seconds rounded up)."""
    allowed, tokens, retry_ms, reset_ms = raw
    tokens_f = float(tokens.decode() if isinstance(tokens, bytes) else tokens)
    return BucketResult(allowed=bool(int(allowed)), limit=capacity, remaining=max(0, math.floor(tokens_f)),
                        retry_after_s=max(1, math.ceil(int(retry_ms) / 1000)) if not int(allowed) else 0,
                        reset_s=math.ceil(int(reset_ms) / 1000))


def api_key(user_id: uuid.UUID) -> str:
    """The per-user API bucket (under the user's erasable prefix)."""
    return f"u:{user_id}:rl:api"


def login_ip_key(ip: str) -> str:
    """The per-IP login bucket."""
    return f"rl:login:ip:{ip}"


def login_account_key(email: str) -> str:
    """The per-account login bucket, keyed by a hash so no email sits in Redis."""
    return f"rl:login:acct:{hashlib.sha256(email.strip().lower().encode()).hexdigest()}"


async def take(redis: Any, key: str, capacity: int, refill_per_s: float, cost: int = 1) -> BucketResult:
    """Atomically take `cost` tokens from a bucket; raises RateLimiterUnavailable if Redis does not answer."""
    script = redis.register_script(TOKEN_BUCKET_LUA)  # Script: EVALSHA, loading the script on NOSCRIPT
    try:
        raw = await script(keys=[key], args=[capacity, max(refill_per_s, _MIN_RATE), cost])
    except (*REDIS_ERRORS, RedisError) as exc:
        raise RateLimiterUnavailable(type(exc).__name__) from exc
    return result_from_script(raw, capacity)


def _warn_open(exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= _WARN_EVERY_S:
        _last_warning = now
        log.warning("rate limiter unavailable (%s): API requests pass unlimited (fail open)", exc)


def too_many(result: BucketResult, what: str) -> ApiError:
    """The 429 for an empty bucket."""
    return ApiError(429, f"too many {what}, retry in {result.retry_after_s} s", headers=result.headers(),
                    details={"retry_after_s": result.retry_after_s, "limit": result.limit})


async def limit_api(redis: Any, settings: Any, user_id: uuid.UUID) -> BucketResult | None:
    """Take one token from the user's API bucket: 429 when empty, None (fail open) when Redis is down."""
    try:
        result = await take(redis, api_key(user_id), settings.rate_api_capacity, settings.rate_api_refill_per_s)
    except RateLimiterUnavailable as exc:
        _warn_open(exc)
        return None
    if not result.allowed:
        raise too_many(result, "requests")
    return result


async def limit_login(redis: Any, settings: Any, ip: str, email: str) -> None:
    """Take a token from the IP's and the account's login buckets: 429 when either is empty, 503 if Redis is down."""
    try:
        by_ip = await take(redis, login_ip_key(ip), settings.rate_login_ip_capacity, settings.rate_login_ip_refill_per_s)
        if not by_ip.allowed:
            raise too_many(by_ip, "login attempts from this address")
        by_account = await take(redis, login_account_key(email), settings.rate_login_account_capacity,
                                settings.rate_login_account_refill_per_s)
    except RateLimiterUnavailable as exc:
        log.warning("rate limiter unavailable (%s): refusing logins (fail closed)", exc)
        raise ApiError(503, "login is temporarily unavailable, retry later", details={"service": "redis"},
                       headers={"Retry-After": str(RETRY_AFTER_S)}) from exc
    if not by_account.allowed:
        raise too_many(by_account, "login attempts for this account")


STATE_KEY = "ratelimit_headers"


class RateLimitHeadersMiddleware:
    """Adds the X-RateLimit-* headers a route's auth dependency computed to whatever response leaves (pure ASGI)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with request.state downstream

        async def send_with_headers(message: dict[str, Any]) -> None:
            extra = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and extra:
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(k.lower().encode(), v.encode()) for k, v in extra.items() if k.lower().encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
