"""Janitor: the one place for background repair work that must eventually finish whatever failed on a request path.

Why an actor: purging samples of deleted activities, erasing accounts in every store and reconciling samples
whose summary never committed are retried until they succeed, independently of any HTTP request or replica.
One named, restartable actor per cluster does it; its state is all in Postgres/Cassandra, so a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import ray

from config.settings import Settings

log = logging.getLogger("stride.janitor")


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class Janitor:
    """Runs registered repair jobs every `interval_s` seconds; `run_once` lets tests drive it deterministically."""

    def __init__(self, settings: Settings, workout_shards: list[Any]) -> None:
        from actors.repairs import build_jobs  # storage clients are built here, inside the actor

        self.settings = settings
        self.interval_s = settings.janitor_interval_s
        self.jobs: dict[str, Callable[[], Awaitable[int]]] = build_jobs(settings, workout_shards)
        # the loop starts with the actor (also after a restart by Ray), not with the first call
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def ping(self) -> str:
        """Liveness for /ready."""
        return "ok"

    async def run_once(self) -> dict[str, int]:
        """Run every job once; returns how many items each repaired."""
        done: dict[str, int] = {}
        for name, job in self.jobs.items():
            try:
                done[name] = await job()
            except Exception as exc:  # noqa: BLE001 - a job failing (dependency down) is retried next round
                log.warning("janitor job %s failed: %s", name, exc)
                done[name] = -1
        return done

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval_s)
