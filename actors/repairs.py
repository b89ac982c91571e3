"""The janitor's jobs, built from settings inside the actor process."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from config.settings import Settings
from storage.cassandra import Cassandra
from storage.postgres import Postgres
from storage.purges import run_pending_purges
from storage.reconcile import reconcile_pending


def build_jobs(settings: Settings) -> dict[str, Callable[[], Awaitable[int]]]:
    """Name -> coroutine function returning the number of items repaired."""
    pg = Postgres(settings)
    cas = Cassandra(settings)

    async def purge_samples() -> int:
        return await run_pending_purges(pg, cas)

    async def reconcile_samples() -> int:
        return await reconcile_pending(pg, cas, settings.pending_grace_s)

    return {"purge_samples": purge_samples, "reconcile_samples": reconcile_samples}
