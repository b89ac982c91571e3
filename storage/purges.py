"""Deleting samples from Cassandra, driven by the sample_purges table in Postgres so a failure is retried later."""

from __future__ import annotations

import uuid
from typing import Any, cast

from storage.cassandra import Cassandra
from storage.postgres import Postgres

DELETE_PARTITION = "DELETE FROM {keyspace}.samples WHERE activity_id = ? AND bucket = ?"


async def delete_sample_partitions(cas: Cassandra, activity_id: uuid.UUID, buckets: list[int]) -> None:
    """Remove every sample partition of an activity (idempotent)."""
    stmt = cas.prepare(DELETE_PARTITION)
    for bucket in buckets:
        await cas.execute(stmt, (activity_id, bucket))


class PurgeQueue:
    """services.ports.Purges: the sample_purges queue, drained into Cassandra."""

    def __init__(self, pg: Postgres, cas: Cassandra) -> None:
        self.pg = pg
        self.cas = cas

    async def run_pending(self, limit: int = 200) -> int:
        """Purge queued partitions; returns how many activities were purged."""
        return await run_pending_purges(self.pg, self.cas, limit)


async def run_pending_purges(pg: Postgres, cas: Cassandra, limit: int = 200) -> int:
    """Purge queued activities' samples, removing each queue row only after Cassandra confirmed; returns count."""
    async with pg.connection() as conn:
        cur = await conn.execute(
            "SELECT activity_id, buckets FROM sample_purges ORDER BY requested_at LIMIT %s", (limit,)
        )
        rows = cast(list[dict[str, Any]], await cur.fetchall())  # the pool's rows are dicts
    done = 0
    for row in rows:
        await delete_sample_partitions(cas, row["activity_id"], list(row["buckets"]))
        async with pg.connection() as conn:
            await conn.execute("DELETE FROM sample_purges WHERE activity_id = %s", (row["activity_id"],))
        done += 1
    return done
