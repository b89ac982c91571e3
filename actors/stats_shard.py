"""StatsShard: hosts per-user UserStats (virtual actors) for the users whose id hashes to it.

Why an actor: a user's totals, streaks, records, goals and training load are updated incrementally by every
activity event; keeping the state in memory next to the code that updates it makes each event cheap. The state is
checkpointed to Postgres in the same transaction as the events it emits (goal_achieved, personal_record, streak),
and events are applied idempotently by id, so a redelivered event (at-least-once dispatch) or a restarted shard
(which reloads the checkpoint) neither loses nor double counts anything.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from typing import Any

import ray

from config.settings import Settings
from domain.progress.user_stats import UserStats
from storage import progress as repo
from storage.activities import add_event
from storage.postgres import Postgres
from storage.redis_store import REDIS_ERRORS, build_redis

log = logging.getLogger("stride.stats")

STATS_EVENTS = ("activity_created", "activity_updated", "activity_deleted", "user_updated", "user_deleted")
CACHE_KEYS = ("stats", "records", "goals", "progress")


def cache_key(user_id: uuid.UUID | str, what: str) -> str:
    """Redis key of a cached stats read (under the user's prefix)."""
    return f"u:{user_id}:{what}"


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=1000)
class StatsShard:
    """Applies activity events to the users it owns and answers their stats reads."""

    def __init__(self, settings: Settings, index: int) -> None:
        self.settings = settings
        self.index = index
        self.pg = Postgres(settings)
        self.redis = build_redis(settings)
        self.users: OrderedDict[uuid.UUID, UserStats] = OrderedDict()
        self.locks: dict[uuid.UUID, asyncio.Lock] = {}

    async def ping(self) -> str:
        """Liveness."""
        return "ok"

    def _lock(self, user_id: uuid.UUID) -> asyncio.Lock:
        return self.locks.setdefault(user_id, asyncio.Lock())

    async def _stats(self, user_id: uuid.UUID) -> UserStats:
        """The user's stats: in memory, else the checkpoint, else a fresh start (goals, tz and profile from Postgres)."""
        stats = self.users.get(user_id)
        if stats is not None:
            self.users.move_to_end(user_id)
            return stats
        async with self.pg.connection() as conn:
            state = await repo.load_checkpoint(conn, user_id)
            if state is not None:
                stats = UserStats.from_state(state)
            else:
                ctx = await repo.user_context(conn, user_id) or {"timezone": "UTC"}
                stats = UserStats(str(user_id), ctx["timezone"], repo.profile_of(ctx))
                stats.set_goals([repo.goal_from_row(g) for g in await repo.goals(conn, user_id)])
        self.users[user_id] = stats
        while len(self.users) > self.settings.stats_resident_users:
            self.users.popitem(last=False)
        return stats

    async def apply_events(self, events: list[dict[str, Any]]) -> int:
        """Apply events in order (grouped per user); each user's result is checkpointed before returning."""
        by_user: OrderedDict[uuid.UUID, list[dict[str, Any]]] = OrderedDict()
        for event in events:
            by_user.setdefault(uuid.UUID(str(event["user_id"])), []).append(event)
        for user_id, user_events in by_user.items():
            async with self._lock(user_id):
                await self._apply_user(user_id, user_events)
        return len(events)

    async def _apply_user(self, user_id: uuid.UUID, events: list[dict[str, Any]]) -> None:
        if any(e["event_type"] == "user_deleted" for e in events):
            self.users.pop(user_id, None)
            return
        stats = await self._stats(user_id)
        emitted: list[dict[str, Any]] = []
        touched: set[uuid.UUID] = set()
        async with self.pg.connection() as conn:
            cur = await conn.execute("SELECT 1 FROM users WHERE user_id = %s FOR SHARE", (user_id,))
            if await cur.fetchone() is None:  # erased meanwhile: nothing to keep
                self.users.pop(user_id, None)
                return
            for event in events:
                emitted += await self._apply_one(conn, stats, event, touched)
            await repo.save_checkpoint(conn, user_id, stats.to_state())
            for activity_id in touched:
                if str(activity_id) in {f.activity_id for f in stats.facts()}:
                    await repo.save_insights(conn, activity_id, stats.insights_for(str(activity_id)))
            for e in emitted:
                await add_event(conn, e["type"], user_id, uuid.UUID(str(e.get("activity_id") or user_id)), e)
        await self.invalidate(user_id)

    async def _apply_one(self, conn: Any, stats: UserStats, event: dict[str, Any], touched: set[uuid.UUID]) -> list[dict]:
        kind = event["event_type"]
        if kind == "user_updated":
            ctx = await repo.user_context(conn, uuid.UUID(str(event["user_id"])))
            if ctx is not None:
                if ctx["timezone"] != stats.tz:
                    stats.set_timezone(ctx["timezone"])
                if repo.profile_of(ctx) != stats.profile:
                    stats.set_profile(repo.profile_of(ctx))
            return []
        activity_id = uuid.UUID(str(event["aggregate_id"]))
        fact = await repo.fact(conn, activity_id)  # the current truth; None once deleted
        change = "deleted" if fact is None else ("created" if kind == "activity_created" else "updated")
        touched.add(activity_id)
        return stats.apply(str(event["event_id"]), change, fact, str(activity_id))

    async def reload_goals(self, user_id: uuid.UUID) -> int:
        """Goal definitions changed: re-read them, announce periods already met, checkpoint."""
        async with self._lock(user_id):
            stats = await self._stats(user_id)
            async with self.pg.connection() as conn:
                emitted = stats.set_goals([repo.goal_from_row(g) for g in await repo.goals(conn, user_id)])
                await repo.save_checkpoint(conn, user_id, stats.to_state())
                for e in emitted:
                    await add_event(conn, e["type"], user_id, user_id, e)
            await self.invalidate(user_id)
            return len(emitted)

    async def read(self, user_id: uuid.UUID, what: str, params: dict[str, Any] | None = None) -> Any:
        """A stats read: 'stats', 'records', 'goals' or 'progress' (with metric/period/sport/start/end)."""
        async with self._lock(user_id):
            stats = await self._stats(user_id)
            if what == "stats":
                return stats.snapshot()
            if what == "records":
                return stats.records()
            if what == "goals":
                return stats.goals_view()
            if what == "progress":
                return stats.progress(**(params or {}))
            if what == "insights":
                return stats.insights_for(str(params["activity_id"]))
        raise ValueError(f"unknown read {what!r}")

    async def evict(self, user_id: uuid.UUID) -> bool:
        """Forget a user's in-memory stats (rebuilt from the checkpoint on next use)."""
        return self.users.pop(user_id, None) is not None

    async def invalidate(self, user_id: uuid.UUID) -> None:
        """Drop the user's cached reads."""
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(cache_key(user_id, "sv"))
                pipe.expire(cache_key(user_id, "sv"), 7 * 86400)
                pipe.delete(*(cache_key(user_id, k) for k in CACHE_KEYS))
                await pipe.execute()
        except REDIS_ERRORS as exc:
            log.warning("cache invalidation failed for %s: %s (entries expire by TTL)", user_id, exc)
