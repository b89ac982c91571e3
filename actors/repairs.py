"""The janitor's jobs, built from settings inside the actor process. Every job uses storage modules (no SQL here)
and returns how many items it repaired."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from actors.gateway import WorkoutShardsGateway
from config.settings import Settings
from domain.errors import NotFound
from services.ports import UnitOfWorkFactory, WorkoutShards

log = logging.getLogger("stride.janitor")

Job = Callable[[], Awaitable[int]]
PRUNE_ROUNDS = 20  # at most this many prune batches per janitor round (the rest waits for the next round)


def build_jobs(settings: Settings, workout_shards: list[Any]) -> dict[str, Job]:
    """Name -> coroutine function returning the number of items repaired."""
    from storage.cassandra import Cassandra
    from storage.postgres import Postgres
    from storage.purges import run_pending_purges
    from storage.reconcile import reconcile_pending
    from storage.uow import PostgresUnitOfWork

    pg = Postgres(settings)
    cas = Cassandra(settings)
    workouts = WorkoutShardsGateway(workout_shards)

    uow = cast(UnitOfWorkFactory, lambda read_only=False: PostgresUnitOfWork(pg, read_only=read_only))

    async def purge_samples() -> int:
        return await run_pending_purges(pg, cas)

    async def reconcile_samples() -> int:
        return await reconcile_pending(pg, cas, settings.pending_grace_s)

    async def finish_idle_live() -> int:
        # past the limit by three of the shards' own idle checks: a session a shard holds is finished by that
        # shard first, so the janitor only ever meets sessions no shard holds (one idle-finish path each)
        idle_s = settings.live_idle_finish_s + 3 * settings.live_check_interval_s
        return await finish_idle_sessions(uow, workouts, idle_s)

    async def prune_outbox() -> int:
        return await prune_delivered_events(uow, settings.outbox_retention_s, settings.outbox_prune_batch)

    return {
        "purge_samples": purge_samples,
        "reconcile_samples": reconcile_samples,
        "finish_idle_live": finish_idle_live,
        "prune_outbox": prune_outbox,
    }


async def finish_idle_sessions(uow: UnitOfWorkFactory, workouts: WorkoutShards, idle_s: float) -> int:
    """Finish live workouts idle for `idle_s` that no shard holds in memory (e.g. after a shard restart).

    Sessions a shard holds are finished by that shard's own idle check (before `idle_s`, see build_jobs); those it
    does not hold have nobody to notice them, so the janitor asks the owning shard to finish them (it rebuilds the
    session from storage and runs the one finish path). NotFound: finished or discarded meanwhile."""
    async with uow() as u:
        idle = await u.live.idle(idle_s)
    done = 0
    for row in idle:
        try:
            await workouts.finish(row["activity_id"], row["user_id"])
        except NotFound:
            continue  # finished or discarded meanwhile
        except Exception as exc:  # noqa: BLE001 - one session that cannot finish now must not hold up the others
            log.warning("idle live workout %s not finished yet: %s", row["activity_id"], exc)
            continue
        done += 1
    return done


async def prune_delivered_events(uow: UnitOfWorkFactory, retention_s: float, batch: int) -> int:
    """Delete outbox rows older than the retention that no consumer still has pending (nor a dead letter)."""
    total = 0
    for _ in range(PRUNE_ROUNDS):
        async with uow() as u:
            n = await u.outbox.prune(retention_s, batch)
            await u.commit()
        total += n
        if n < batch:
            break
    return total
