"""Account erasure across every store: Postgres in one transaction, then Cassandra samples and Redis keys.

If Cassandra is down the purge rows stay queued in Postgres and the janitor finishes them; Redis keys of the user
all live under the `u:{user_id}:` prefix and expire on their own anyway.
"""
from __future__ import annotations

import json
import logging
import uuid

from serve_app.resources import Resources
from storage.errors import StorageUnavailable
from storage.purges import run_pending_purges

log = logging.getLogger("stride.erasure")


def user_key_prefix(user_id: uuid.UUID | str) -> str:
    """Every Redis key about a user starts with this."""
    return f"u:{user_id}:"


async def erase_account(res: Resources, user_id: uuid.UUID) -> bool:
    """Delete the user everywhere; returns False if the user did not exist."""
    async with res.pg.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO sample_purges (activity_id, buckets)"
            " SELECT activity_id, sample_buckets FROM activities WHERE user_id = %s AND cardinality(sample_buckets) > 0"
            " ON CONFLICT (activity_id) DO NOTHING", (user_id,),
        )
        cur = await conn.execute("DELETE FROM users WHERE user_id = %s RETURNING user_id", (user_id,))
        if await cur.fetchone() is None:
            return False
        await conn.execute(
            "INSERT INTO outbox (event_id, event_type, user_id, aggregate_id, payload) VALUES (%s, 'user_deleted', %s, %s, %s)",
            (uuid.uuid4(), user_id, user_id, json.dumps({"user_id": str(user_id)})),
        )
    await _purge_cache(res, user_id)
    try:
        await run_pending_purges(res.pg, res.cassandra)
    except StorageUnavailable as exc:  # the janitor retries
        log.warning("sample purge deferred for user %s: %s", user_id, exc)
    return True


async def _purge_cache(res: Resources, user_id: uuid.UUID) -> None:
    try:
        keys = [k async for k in res.redis.scan_iter(match=f"{user_key_prefix(user_id)}*", count=500)]
        if keys:
            await res.redis.delete(*keys)
    except Exception as exc:  # noqa: BLE001 - Redis holds nothing that is not elsewhere; entries expire
        log.warning("cache purge failed for user %s: %s", user_id, exc)
