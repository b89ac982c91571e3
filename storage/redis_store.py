"""Redis adapter: an asyncio client built from settings; callers decide whether a failure is fatal."""
from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

from config.settings import Settings
from storage.errors import StorageUnavailable

REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


def build_redis(settings: Settings, db: int | None = None) -> aioredis.Redis:
    """A pooled async client; it connects on first command, never at construction."""
    return aioredis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        db=settings.redis_db if db is None else db,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=10,
        decode_responses=False,
    )


async def ping(client: aioredis.Redis) -> None:
    """Raise StorageUnavailable unless Redis answers PING."""
    try:
        await client.ping()
    except REDIS_ERRORS as exc:
        raise StorageUnavailable("redis", type(exc).__name__) from exc
