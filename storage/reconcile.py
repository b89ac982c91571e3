"""Reconciling samples written ahead of a summary that never committed (the client gave up after a 503)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from storage.cassandra import Cassandra
from storage.postgres import Postgres
from storage.purges import delete_sample_partitions
from storage.samples import PENDING_SHARDS

_SELECT = "SELECT activity_id, user_id, buckets, created_at FROM {keyspace}.pending_activities WHERE shard = ?"
_DELETE = "DELETE FROM {keyspace}.pending_activities WHERE shard = ? AND activity_id = ?"


async def reconcile_pending(pg: Postgres, cas: Cassandra, grace_s: float) -> int:
    """For markers older than grace_s: keep samples whose summary exists, purge the rest; returns markers resolved."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=grace_s)
    resolved = 0
    for shard in range(PENDING_SHARDS):
        rows = [
            r
            for r in await cas.execute(cas.prepare(_SELECT), (shard,))
            if r.created_at.replace(tzinfo=dt.UTC) <= cutoff
        ]
        if not rows:
            continue
        async with pg.connection() as conn:
            cur = await conn.execute(
                "SELECT activity_id FROM activities WHERE activity_id = ANY(%s)", ([r.activity_id for r in rows],)
            )
            committed = {r["activity_id"] for r in cast(list[dict[str, Any]], await cur.fetchall())}
        for row in rows:
            if row.activity_id not in committed:
                await delete_sample_partitions(cas, row.activity_id, sorted(row.buckets or ()))
            await cas.execute(cas.prepare(_DELETE), (shard, row.activity_id))
            resolved += 1
    return resolved
