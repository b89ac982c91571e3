"""The Redis read cache in front of the stats actors (services.ports.StatsCache).

Keys live under the user's prefix (`u:{user_id}:`, so erasure finds them): `u:{id}:sv` is the user's cache version,
bumped by the stats actor on every change (and by services.activities after an edit or a deletion);
`u:{id}:{what}` (stats, records, goals, progress, activity) is a hash whose fields `{version}:{params digest}`
(for `activity`: the activity id) hold opaque bytes (the service's ready response and its entity tag).

- A read is one round trip: a Lua script reads the version and the document filed under it.
- A write is filed under the version the reader saw before asking the actor, and only while that is still the
  current version (checked in the same script): a value read just before an invalidation is never served.
- A hash holds at most `max_entries` parameter variants (a client cycling through progress ranges cannot grow it
  without bound); entries expire after `ttl_s` anyway.
Any Redis failure is `Unavailable("redis")`: the caller reads from the actor instead (the API fails open).
"""

from __future__ import annotations

import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import StorageUnavailable

READ_KINDS = ("stats", "records", "goals", "progress", "activity")
VERSION_TTL_S = 7 * 86400

_GET = """
local v = redis.call('GET', KEYS[1]) or '0'
local doc = redis.call('HGET', KEYS[2], v .. ':' .. ARGV[1])
if doc then return {v, doc} end
return {v}
"""
_PUT = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then redis.call('DEL', KEYS[2]) end
redis.call('HSET', KEYS[2], ARGV[1] .. ':' .. ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""


def cache_key(user_id: uuid.UUID | str, what: str) -> str:
    """Redis key of a cached stats read kind (under the user's prefix)."""
    return f"u:{user_id}:{what}"


def version_key(user_id: uuid.UUID | str) -> str:
    """Redis key of the user's stats cache version."""
    return f"u:{user_id}:sv"


class RedisStatsCache:
    """services.ports.StatsCache over Redis (see the module docstring)."""

    def __init__(self, redis: aioredis.Redis, ttl_s: int, max_entries: int = 32) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._get = redis.register_script(_GET)
        self._put = redis.register_script(_PUT)

    async def get(self, user_id: uuid.UUID, what: str, key: str) -> tuple[str, bytes | None]:
        try:
            reply: list[Any] = await self._get(keys=[version_key(user_id), cache_key(user_id, what)], args=[key])
        except (RedisError, OSError) as exc:
            raise StorageUnavailable("redis", type(exc).__name__) from exc
        version = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        return version, (bytes(reply[1]) if len(reply) > 1 else None)

    async def put(self, user_id: uuid.UUID, what: str, key: str, version: str, value: bytes) -> None:
        try:
            await self._put(
                keys=[version_key(user_id), cache_key(user_id, what)],
                args=[version, key, value, self.ttl_s, self.max_entries],
            )
        except (RedisError, OSError) as exc:
            raise StorageUnavailable("redis", type(exc).__name__) from exc

    async def forget(self, user_id: uuid.UUID) -> None:
        """The user is erased: their version key goes too (an invalidation would write it again after the
        erasure purged the user's keys); a reader that saw an older version can no longer file a value."""
        try:
            await self.redis.delete(version_key(user_id), *(cache_key(user_id, k) for k in READ_KINDS))
        except (RedisError, OSError) as exc:
            raise StorageUnavailable("redis", type(exc).__name__) from exc

    async def invalidate(self, user_id: uuid.UUID) -> None:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(version_key(user_id))
                pipe.expire(version_key(user_id), VERSION_TTL_S)
                pipe.delete(*(cache_key(user_id, k) for k in READ_KINDS))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StorageUnavailable("redis", type(exc).__name__) from exc
