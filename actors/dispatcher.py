"""EventDispatcher: delivers outbox events to their consumers at least once, in commit order per user.

Why an actor: the outbox is written in the same transaction as each change; someone must move its rows to the
consumers and mark them done only after the consumer has durably applied them. One named, restartable actor per
cluster polls the outbox; consumers are idempotent by event id, so a crash between apply and mark only causes a
harmless redelivery.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import ray

from actors.gateway import StatsShardsGateway
from config.settings import Settings
from storage.postgres import Postgres

log = logging.getLogger("stride.dispatch")

@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class EventDispatcher:
    """Polls undispatched stats events and hands them to the owning StatsShard."""

    def __init__(self, settings: Settings, stats_shards: list[Any]) -> None:
        self.settings = settings
        self.pg = Postgres(settings)
        self.shards = StatsShardsGateway(stats_shards)
        self.delivered = 0
        # the loop starts with the actor (also after a restart by Ray), not with the first call
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def ping(self) -> str:
        """Liveness."""
        return "ok"

    async def _loop(self) -> None:
        while True:
            try:
                moved = await self.dispatch_once()
            except Exception as exc:  # noqa: BLE001 - a consumer or the database is down: retry
                log.warning("dispatch failed: %s", exc)
                moved = 0
            if moved < self.settings.dispatch_batch:
                await asyncio.sleep(self.settings.dispatch_interval_s)

    async def dispatch_once(self) -> int:
        """Deliver one batch of pending events; returns how many were marked dispatched."""
        from actors.stats_shard import STATS_EVENTS

        async with self.pg.connection() as conn:
            cur = await conn.execute(
                "SELECT seq, event_id, event_type, user_id, aggregate_id FROM outbox WHERE dispatched_at IS NULL"
                " AND event_type = ANY(%s) ORDER BY seq LIMIT %s", (list(STATS_EVENTS), self.settings.dispatch_batch),
            )
            rows = await cur.fetchall()
        if not rows:
            return 0
        groups: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            if row["user_id"] is None:
                continue
            groups.setdefault(self.shards.owner_index(row["user_id"]), []).append(_event(row))
        results = await asyncio.gather(*(self.shards.apply_events(i, evs) for i, evs in groups.items()),
                                       return_exceptions=True)
        done = [row["seq"] for row in rows if row["user_id"] is None]
        for (i, evs), result in zip(groups.items(), results):
            if isinstance(result, BaseException):
                log.warning("stats shard %d failed: %s; its events will be redelivered", i, result)
            else:
                done += [e["seq"] for e in evs]
        if done:
            async with self.pg.connection() as conn:
                await conn.execute("UPDATE outbox SET dispatched_at = now(), attempts = attempts + 1 WHERE seq = ANY(%s)",
                                   (done,))
        self.delivered += len(done)
        return len(done)


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return {"seq": row["seq"], "event_id": str(row["event_id"]), "event_type": row["event_type"],
            "user_id": str(row["user_id"]), "aggregate_id": str(row["aggregate_id"] or row["user_id"])}
