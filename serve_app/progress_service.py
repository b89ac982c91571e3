"""Stats reads (Redis in front of the user's StatsShard) and goal changes."""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import ray

from actors.stats_shard import cache_key
from serve_app.errors import ApiError
from serve_app.resources import Resources
from storage.redis_store import REDIS_ERRORS


def _shard(res: Resources, user_id: uuid.UUID) -> Any:
    return res.stats.handles[res.stats.owner_index(user_id)]


async def shard_call(res: Resources, user_id: uuid.UUID, method: str, *args: Any) -> Any:
    """Call the user's stats shard; a restarting shard is a 503, a domain ValueError a 422."""
    try:
        return await getattr(_shard(res, user_id), method).remote(user_id, *args)
    except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
        raise ApiError(503, "stats service is restarting, retry", code="service_unavailable",
                       headers={"Retry-After": "1"}) from exc
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, ValueError):
            raise ApiError(422, f"invalid request: {exc.cause}") from exc
        raise


async def cached_read(res: Resources, user_id: uuid.UUID, what: str, params: dict[str, Any] | None = None) -> Any:
    """A stats read through Redis; Redis down -> straight to the shard.

    Entries are filed under the user's stats version, which the shard bumps on every change: a value read from
    the shard just before an invalidation is filed under the old version and never served."""
    key = cache_key(user_id, what)
    digest = hashlib.sha1(json.dumps(params or {}, sort_keys=True, default=str).encode()).hexdigest()
    try:
        version = (await res.redis.get(cache_key(user_id, "sv")) or b"0").decode()
        hit = await res.redis.hget(key, f"{version}:{digest}")
        if hit is not None:
            return json.loads(hit)
    except REDIS_ERRORS:
        return await shard_call(res, user_id, "read", what, params)
    value = await shard_call(res, user_id, "read", what, params)
    try:
        async with res.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, f"{version}:{digest}", json.dumps(value, default=str))
            pipe.expire(key, res.settings.cache_ttl_s)
            await pipe.execute()
    except REDIS_ERRORS:
        pass
    return value
