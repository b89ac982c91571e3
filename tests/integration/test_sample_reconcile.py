"""Samples written ahead of a summary that never committed are purged; committed ones are kept."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import numpy as np

from config.settings import Settings
from domain.track import Track
from storage.cassandra import Cassandra
from storage.postgres import Postgres
from storage.reconcile import reconcile_pending
from storage.samples import SampleStore, pending_shard


def test_reconciler_purges_orphans_and_keeps_committed_samples(settings: Settings) -> None:
    async def go() -> tuple[int, int, int, bool]:
        pg, cas = Postgres(settings), Cassandra(settings)
        store = SampleStore(cas, settings.sample_bucket_seconds)
        track = Track.from_arrays(np.arange(0, 4000, 1.0), hr=np.full(4000, 130.0))
        user_id, orphan, kept = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        try:
            async with pg.connection() as conn:
                await conn.execute(
                    "INSERT INTO users (user_id, email, email_key, password_hash, name) VALUES (%s, %s, %s, 'x', 'r')",
                    (user_id, f"{user_id}@example.com", f"{user_id}@example.com"),
                )
                await conn.execute(
                    "INSERT INTO activities (activity_id, user_id, type, start_time, sample_buckets)"
                    " VALUES (%s, %s, 'running', now(), %s)",
                    (kept, user_id, [0, 1]),
                )
            old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
            for activity_id in (orphan, kept):
                await store.write_track(activity_id, track)
                await cas.execute(
                    cas.prepare(
                        "INSERT INTO {keyspace}.pending_activities (shard, activity_id, user_id,"
                        " buckets, created_at) VALUES (?, ?, ?, ?, ?)"
                    ),
                    (pending_shard(activity_id), activity_id, user_id, {0, 1}, old),
                )
            fresh = uuid.uuid4()
            await store.mark_pending(fresh, user_id, [0])  # too young to judge: left alone
            resolved = await reconcile_pending(pg, cas, grace_s=600)
            left = len(await store.read_track(orphan, [0, 1]))
            kept_n = len(await store.read_track(kept, [0, 1]))
            rows = await cas.execute(
                cas.prepare("SELECT activity_id FROM {keyspace}.pending_activities WHERE shard = ?"),
                (pending_shard(fresh),),
            )
            fresh_kept = fresh in {r.activity_id for r in rows}
            await store.clear_pending(fresh)
            async with pg.connection() as conn:
                await conn.execute("DELETE FROM users WHERE user_id = %s", (user_id,))
            return resolved, left, kept_n, fresh_kept
        finally:
            await pg.close()
            cas.close()

    resolved, left, kept_n, fresh_kept = asyncio.run(go())
    assert resolved >= 2
    assert left == 0
    assert kept_n == 4000
    assert fresh_kept
