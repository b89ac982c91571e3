"""The janitor's jobs, built from settings inside the actor process."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from actors.gateway import WorkoutShardsGateway

from config.settings import Settings
from storage.cassandra import Cassandra
from storage.postgres import Postgres
from storage.purges import run_pending_purges
from storage.reconcile import reconcile_pending


def build_jobs(settings: Settings, workout_shards: list[Any]) -> dict[str, Callable[[], Awaitable[int]]]:
    """Name -> coroutine function returning the number of items repaired."""
    pg = Postgres(settings)
    cas = Cassandra(settings)

    async def purge_samples() -> int:
        return await run_pending_purges(pg, cas)

    async def reconcile_samples() -> int:
        return await reconcile_pending(pg, cas, settings.pending_grace_s)

    async def finish_idle_live() -> int:
        return await finish_idle_sessions(pg, settings, WorkoutShardsGateway(workout_shards))

    return {"purge_samples": purge_samples, "reconcile_samples": reconcile_samples,
            "finish_idle_live": finish_idle_live}


async def finish_idle_sessions(pg: Postgres, settings: Settings, workouts: WorkoutShardsGateway) -> int:
    """Finish live workouts idle past the limit that no shard holds in memory (e.g. after a shard restart)."""
    from storage.live import idle_sessions

    async with pg.connection() as conn:
        idle = await idle_sessions(conn, settings.live_idle_finish_s)
    done = 0
    for row in idle:
        result = await workouts.finish(row["activity_id"], row["user_id"])
        done += result["status"] == 200
    return done
