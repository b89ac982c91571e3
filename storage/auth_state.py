"""The Redis side of authentication and rate limiting: login-session states, token buckets, revocation messages
and the erasure of a user's keys. Implements the accounts ports of services/ports.py (SessionGate, RateLimiter,
Revocations, UserKeys); every failure of Redis is `domain.errors.Unavailable("redis")`, and the services decide
what that means (the API fails open, login and registration fail closed).

Keys (every key about a user starts with `u:{user_id}:`, so erasure removes them by prefix):
- `u:{uid}:sess:{sid}`: "1" (active, cached for `session_cache_ttl_s`) or "0" (revoked, kept until the session's
  access tokens have expired); a missing key means "ask Postgres".
- token buckets: a hash {tokens, ts}, named by the service (`u:{uid}:rl:api`, `rl:login:ip:...`, ...).
- channel `stride:revocations`: `{"user_id", "session_id" (null = every session), "reason"}` for the socket hub.

One round trip per authenticated request: GATE_LUA reads the session state and, only if the session is active,
takes the API token in the same script.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError

from domain.errors import Unavailable
from domain.ratelimit import Bucket, BucketResult
from storage.redis_store import REDIS_ERRORS

log = logging.getLogger("stride.auth_state")

REVOCATIONS_CHANNEL = "stride:revocations"
ACTIVE, REVOKED = "active", "revoked"
_STATES = {b"1": ACTIVE, b"0": REVOKED}

# Takes `cost` from bucket KEYS[k] (ARGV[a..a+2] = capacity, rate per second, cost) at `now` ms if `take` and the
# tokens are there; writes the refilled state if `write`. Returns allowed (0/1), tokens left (a string: Lua numbers are
# truncated on return), ms until a retry can succeed, ms until the bucket is full.
_BUCKET_LUA = """
local function bucket(k, a, now, take, write)
  local capacity = tonumber(ARGV[a])
  local rate = tonumber(ARGV[a + 1])
  local cost = tonumber(ARGV[a + 2])
  local state = redis.call('HMGET', KEYS[k], 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = capacity
    ts = now
  end
  if now > ts then
    tokens = math.min(capacity, tokens + (now - ts) * rate / 1000)
  end
  local allowed = 0
  local retry_ms = 0
  if tokens >= cost then
    if take then
      tokens = tokens - cost
    end
    allowed = 1
  else
    retry_ms = math.ceil((cost - tokens) * 1000 / rate)
  end
  local reset_ms = math.ceil((capacity - tokens) * 1000 / rate)
  if write then
    redis.call('HSET', KEYS[k], 'tokens', tostring(tokens), 'ts', tostring(now))
    redis.call('PEXPIRE', KEYS[k], reset_ms + 1000)
  end
  return {allowed, tostring(tokens), retry_ms, reset_ms}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: n buckets; ARGV: capacity, rate, cost for each. All or nothing: the tokens are taken from every bucket only
# if every bucket has them. Returns the flattened per-bucket replies (each bucket's own "allowed": the caller refuses
# when any is 0, and names that one).
TAKE_ALL_LUA = (
    _BUCKET_LUA
    + """
local ok = true
for k = 1, #KEYS do
  local r = bucket(k, 3 * k - 2, now, false, false)
  if r[1] == 0 then ok = false end
end
local out = {}
for k = 1, #KEYS do
  local r = bucket(k, 3 * k - 2, now, ok, true)
  for _, v in ipairs(r) do table.insert(out, v) end
end
return out
"""
)

# KEYS[1]: the session's state key, KEYS[2]: the user's API bucket. ARGV[1..3]: the bucket; ARGV[4]: seconds to
# mark the session active for first (0 = do not: only after Postgres said it is). Returns {state ("1", "0" or
# ""), allowed, tokens, retry_ms, reset_ms}. A token is taken only from an active session's user: a revoked or
# unknown session (the caller asks Postgres, then calls again marking it) leaves no key behind.
GATE_LUA = (
    _BUCKET_LUA
    + """
local mark = tonumber(ARGV[4])
if mark > 0 then
  redis.call('SET', KEYS[1], '1', 'EX', mark)
end
local state = redis.call('GET', KEYS[1])
if state ~= '1' then
  if state == false then state = '' end
  return {state}
end
local r = bucket(2, 1, now, true, true)
return {state, r[1], r[2], r[3], r[4]}
"""
)


def session_key(user_id: uuid.UUID, session_id: uuid.UUID) -> str:
    """Redis key caching whether a login session is active."""
    return f"u:{user_id}:sess:{session_id}"


def user_prefix(user_id: uuid.UUID) -> str:
    """Every Redis key about a user starts with this."""
    return f"u:{user_id}:"


def _result(raw: Sequence[Any], capacity: int) -> BucketResult:
    allowed, tokens, retry_ms, reset_ms = raw
    tokens_f = float(tokens.decode() if isinstance(tokens, bytes) else tokens)
    return BucketResult.of(bool(int(allowed)), capacity, tokens_f, int(retry_ms), int(reset_ms))


def _args(buckets: Sequence[Bucket]) -> list[Any]:
    return [v for b in buckets for v in (b.capacity, b.rate, b.cost)]


class RedisAuthState:
    """SessionGate, RateLimiter, Revocations and UserKeys over one Redis client (the replica's request pool)."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._take_all = redis.register_script(TAKE_ALL_LUA)  # EVALSHA, loading the script once on NOSCRIPT
        self._gate = redis.register_script(GATE_LUA)

    # ------------------------------------------------------------------ RateLimiter

    async def take(self, buckets: Sequence[Bucket]) -> list[BucketResult]:
        """Take each bucket's cost from every bucket, or from none if one of them is short (one round trip)."""
        try:
            raw = await self._take_all(keys=[b.key for b in buckets], args=_args(buckets))
        except (*REDIS_ERRORS, RedisError) as exc:
            raise Unavailable("redis", type(exc).__name__) from exc
        return [_result(raw[4 * i : 4 * i + 4], b.capacity) for i, b in enumerate(buckets)]

    # ------------------------------------------------------------------ SessionGate

    async def check(
        self, user_id: uuid.UUID, session_id: uuid.UUID, bucket: Bucket, *, mark_active_s: int = 0
    ) -> tuple[str | None, BucketResult | None]:
        """(session state: 'active', 'revoked' or None when unknown; the API bucket's answer when a token was
        taken), in one round trip. `mark_active_s` > 0 records the session as active first (after Postgres said so)."""
        try:
            raw = await self._gate(
                keys=[session_key(user_id, session_id), bucket.key], args=[*_args([bucket]), max(0, int(mark_active_s))]
            )
        except (*REDIS_ERRORS, RedisError) as exc:
            raise Unavailable("redis", type(exc).__name__) from exc
        state = _STATES.get(bytes(raw[0]))
        return state, (_result(raw[1:5], bucket.capacity) if len(raw) == 5 else None)

    async def state(self, user_id: uuid.UUID, session_id: uuid.UUID) -> str | None:
        """The recorded state of a session ('active', 'revoked', None when unknown), taking no token."""
        try:
            raw = await self.redis.get(session_key(user_id, session_id))
        except (*REDIS_ERRORS, RedisError) as exc:
            raise Unavailable("redis", type(exc).__name__) from exc
        return _STATES.get(bytes(raw)) if raw is not None else None

    async def mark_active(self, user_id: uuid.UUID, session_id: uuid.UUID, ttl_s: int) -> None:
        """Record a session as active for ttl_s (e.g. right after login)."""
        try:
            await self.redis.set(session_key(user_id, session_id), b"1", ex=max(1, ttl_s))
        except (*REDIS_ERRORS, RedisError) as exc:
            raise Unavailable("redis", type(exc).__name__) from exc

    async def mark_revoked(self, user_id: uuid.UUID, session_id: uuid.UUID, ttl_s: int) -> None:
        """Record a session as revoked for ttl_s (until its last access token expired)."""
        try:
            await self.redis.set(session_key(user_id, session_id), b"0", ex=max(1, ttl_s))
        except (*REDIS_ERRORS, RedisError) as exc:
            raise Unavailable("redis", type(exc).__name__) from exc

    # ------------------------------------------------------------------ Revocations

    async def revoke(self, user_id: uuid.UUID, session_id: uuid.UUID | None, reason: str, ttl_s: int) -> None:
        """Mark a session revoked (if one is named) and announce it on `stride:revocations`, in one round trip."""
        message = json.dumps(
            {"user_id": str(user_id), "session_id": str(session_id) if session_id else None, "reason": reason}
        )
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                if session_id is not None:
                    pipe.set(session_key(user_id, session_id), b"0", ex=max(1, ttl_s))
                pipe.publish(REVOCATIONS_CHANNEL, message)
                await pipe.execute()
        except (*REDIS_ERRORS, RedisError) as exc:
            raise Unavailable("redis", type(exc).__name__) from exc

    # ------------------------------------------------------------------ UserKeys

    async def purge(self, user_id: uuid.UUID, extra_keys: Sequence[str] = ()) -> int:
        """Delete every key under the user's prefix, and `extra_keys` (keys about the user named otherwise, e.g.
        the login bucket of their email's digest); returns how many existed."""
        try:
            keys = [k async for k in self.redis.scan_iter(match=f"{user_prefix(user_id)}*", count=1000)]
            keys += list(extra_keys)
            return int(await self.redis.unlink(*keys)) if keys else 0
        except (*REDIS_ERRORS, RedisError) as exc:
            raise Unavailable("redis", type(exc).__name__) from exc
