"""StatsShard: hosts per-user UserStats (virtual actors) for the users whose id hashes to it.

Why an actor: a user's totals, streaks, records, goals and training load are updated incrementally by every
activity event; keeping the state in memory next to the code that updates it makes each event cheap.

Consistency: a user's events are applied inside one unit of work that also writes the checkpoint, the insights and
the events the change emits (goal_achieved, personal_record, streak). Memory follows the database: if anything
fails before the commit, the user's in-memory state is dropped and rebuilt from the last committed checkpoint on
next use, so a redelivered event is applied again (nothing lost) and an event applied and committed is remembered
by id in the checkpoint (nothing counted twice, nothing announced twice).

`StatsHost` is that logic without Ray (unit-tested with fakes); `StatsShard` is the Ray actor around it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, cast

import ray

from config.settings import Settings
from domain.errors import Invalid, NotFound, StrideError, Unavailable
from domain.progress.goals import goal_from_dict
from domain.progress.user_stats import Kind, UserStats
from services.ports import Row, StatsCache, StatsRepository, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("stride.stats")

READS = ("stats", "records", "goals", "progress", "insights")


def _profile(ctx: Row) -> dict[str, Any]:
    return {k: ctx[k] for k in ("max_hr", "resting_hr", "sex", "birth_year") if ctx.get(k) is not None}


class StatsHost:
    """The users a shard owns: apply events, reload goals, answer reads (see the module docstring)."""

    def __init__(self, uow: UnitOfWorkFactory, cache: StatsCache, resident_users: int = 20_000) -> None:
        self.uow = uow
        self.cache = cache
        self.resident_users = resident_users
        self.users: OrderedDict[uuid.UUID, UserStats] = OrderedDict()
        self.locks: dict[uuid.UUID, asyncio.Lock] = {}

    def _lock(self, user_id: uuid.UUID) -> asyncio.Lock:
        return self.locks.setdefault(user_id, asyncio.Lock())

    async def _resident(self, uow: UnitOfWork, user_id: uuid.UUID) -> UserStats:
        """The user's stats: in memory, else the checkpoint, else a fresh start (goals, tz, profile from Postgres)."""
        stats = self.users.get(user_id)
        if stats is not None:
            self.users.move_to_end(user_id)
            return stats
        state = await uow.stats.load_checkpoint(user_id)
        if state is not None:
            stats = UserStats.from_state(state)
        else:
            ctx = await uow.stats.user_context(user_id)
            if ctx is None:  # erased (or never existed): nothing to hold in memory for them
                raise NotFound("user")
            stats = UserStats(str(user_id), ctx["timezone"], _profile(ctx))
            stats.set_goals([goal_from_dict(g) for g in await uow.goals.list(user_id)])
        self.users[user_id] = stats
        while len(self.users) > self.resident_users:
            evicted, _ = self.users.popitem(last=False)
            if not self._lock(evicted).locked():
                self.locks.pop(evicted, None)
        return stats

    # ------------------------------------------------------------------ events

    async def apply_events(self, events: Sequence[Row]) -> list[Row]:
        """Apply events (any users, any order); each user's are committed together. Returns the failures
        [{seq, event_id, error}]: a user whose batch fails is retried event by event, so one poison event fails
        alone; Postgres being down fails the user's whole batch at once."""
        by_user: OrderedDict[uuid.UUID, list[Row]] = OrderedDict()
        failures: list[Row] = []
        for event in events:
            if event.get("user_id") is None:
                continue  # nothing to apply to
            by_user.setdefault(uuid.UUID(str(event["user_id"])), []).append(event)
        for user_id, user_events in by_user.items():
            try:
                await self._apply_user(user_id, user_events)
                continue
            except Unavailable as exc:
                failures += [_failure(e, exc) for e in user_events]
                continue
            except Exception as exc:  # noqa: BLE001 - isolate the poison event below
                if len(user_events) == 1:
                    failures.append(_failure(user_events[0], exc))
                    continue
                log.warning("stats batch of %s failed (%s); applying its events one by one", user_id, exc)
            for event in user_events:
                try:
                    await self._apply_user(user_id, [event])
                except Exception as exc:  # noqa: BLE001 - reported back, retried by the dispatcher
                    failures.append(_failure(event, exc))
        return failures

    async def reload_goals(self, user_id: uuid.UUID) -> int:
        """Goal definitions changed: re-read them, announce periods already met, checkpoint; returns how many
        goal_achieved events were announced."""
        return await self._apply_user(user_id, [{"event_type": "goals_changed", "user_id": str(user_id)}])

    async def _apply_user(self, user_id: uuid.UUID, events: Sequence[Row]) -> int:
        async with self._lock(user_id):
            if any(e["event_type"] == "user_deleted" for e in events):
                self.users.pop(user_id, None)
                await self._forget(user_id)
                return 0
            try:
                emitted = await self._commit_user(user_id, events)
            except BaseException:
                self.users.pop(user_id, None)  # memory follows the database: reload the checkpoint next time
                raise
        await self._invalidate(user_id)
        return sum(1 for e in emitted if e["type"] == "goal_achieved")

    async def _commit_user(self, user_id: uuid.UUID, events: Sequence[Row]) -> list[Row]:
        async with self.uow() as uow:
            if not await uow.stats.lock_user(user_id):  # erased meanwhile: nothing to keep
                self.users.pop(user_id, None)
                return []
            stats = await self._resident(uow, user_id)
            emitted: list[Row] = []
            touched: set[uuid.UUID] = set()
            for event in events:
                emitted += await self._apply_one(uow, stats, event, touched)
            await uow.stats.save_checkpoint(user_id, stats.to_state())
            if touched:
                known = {f.activity_id for f in stats.facts()}
                for activity_id in touched:
                    if str(activity_id) in known:
                        await uow.stats.save_insights(activity_id, stats.insights_for(str(activity_id)))
            for e in emitted:
                uow.emit(e["type"], user_id, uuid.UUID(str(e.get("activity_id") or user_id)), e)
            await uow.commit()
        return emitted

    async def _apply_one(self, uow: UnitOfWork, stats: UserStats, event: Row, touched: set[uuid.UUID]) -> list[Row]:
        kind = event["event_type"]
        user_id = uuid.UUID(str(event["user_id"]))
        if kind == "user_updated":
            await self._refresh_user(uow.stats, stats, user_id)
            return []
        if kind == "goals_changed":
            return stats.set_goals([goal_from_dict(g) for g in await uow.goals.list(user_id)])
        if kind not in ("activity_created", "activity_updated", "activity_deleted"):
            raise Invalid.field("event_type", f"the stats consumer does not take {kind!r}")
        activity_id = uuid.UUID(str(event["aggregate_id"]))
        fact = await uow.stats.fact(activity_id)  # the current truth; None once deleted
        change: Kind = "deleted" if fact is None else ("created" if kind == "activity_created" else "updated")
        touched.add(activity_id)
        return stats.apply(str(event["event_id"]), change, fact, str(activity_id))

    @staticmethod
    async def _refresh_user(repo: StatsRepository, stats: UserStats, user_id: uuid.UUID) -> None:
        ctx = await repo.user_context(user_id)
        if ctx is None:
            return
        if ctx["timezone"] != stats.tz:
            stats.set_timezone(ctx["timezone"])
        if _profile(ctx) != stats.profile:
            stats.set_profile(_profile(ctx))

    async def _forget(self, user_id: uuid.UUID) -> None:
        """Erasure: delete the user's cache keys (an invalidation would write the version key again after the
        erasure purged everything under the user's prefix)."""
        try:
            await self.cache.forget(user_id)
        except Unavailable as exc:
            log.warning("cache of erased user %s left to expire: %s", user_id, exc)

    async def _invalidate(self, user_id: uuid.UUID) -> None:
        try:
            await self.cache.invalidate(user_id)
        except Unavailable as exc:
            log.warning("cache invalidation failed for %s: %s (entries expire by TTL)", user_id, exc)

    # ------------------------------------------------------------------ reads

    async def read(self, user_id: uuid.UUID, what: str, params: Row | None = None) -> Any:
        """'stats', 'records', 'goals', 'progress' (metric, period, sport, start, end) or 'insights' (activity_id)."""
        if what not in READS:
            raise Invalid.field("what", f"one of {', '.join(READS)}")
        async with self._lock(user_id):
            stats = self.users.get(user_id)
            if stats is None:
                async with self.uow() as uow:
                    stats = await self._resident(uow, user_id)
            else:
                self.users.move_to_end(user_id)
            try:
                if what == "stats":
                    return stats.snapshot()
                if what == "records":
                    return stats.records()
                if what == "goals":
                    return stats.goals_view()
                if what == "progress":
                    return stats.progress(**(params or {}))
                return stats.insights_for(str((params or {})["activity_id"]))
            except (ValueError, OverflowError, KeyError, TypeError) as exc:
                raise Invalid.field(what, str(exc) or type(exc).__name__) from None

    async def evict(self, user_id: uuid.UUID) -> bool:
        """Forget a user's in-memory stats (rebuilt from the checkpoint on next use)."""
        return self.users.pop(user_id, None) is not None


def _failure(event: Row, exc: BaseException) -> Row:
    detail = exc.message if isinstance(exc, StrideError) else f"{type(exc).__name__}: {exc}"
    return {"seq": event.get("seq"), "event_id": event.get("event_id"), "error": detail}


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=1000)  # type: ignore[call-overload]
class StatsShard:
    """The Ray actor hosting a StatsHost; methods raise domain errors (the gateway re-raises them)."""

    def __init__(self, settings: Settings, index: int) -> None:
        from storage.postgres import Postgres
        from storage.redis_store import build_redis
        from storage.stats_cache import RedisStatsCache
        from storage.uow import PostgresUnitOfWork

        self.settings = settings
        self.index = index
        pg = Postgres(settings)
        cache = RedisStatsCache(build_redis(settings), settings.cache_ttl_s, settings.stats_cache_entries_per_read)
        uow = cast(UnitOfWorkFactory, lambda read_only=False: PostgresUnitOfWork(pg, read_only=read_only))
        self.host = StatsHost(uow, cache, settings.stats_resident_users)

    async def ping(self) -> str:
        """Liveness."""
        return "ok"

    async def apply_events(self, events: list[Row]) -> list[Row]:
        """Apply a batch of events; returns the failed ones [{seq, event_id, error}]."""
        return await self.host.apply_events(events)

    async def reload_goals(self, user_id: uuid.UUID) -> int:
        """Re-read a user's goals now."""
        return await self.host.reload_goals(user_id)

    async def read(self, user_id: uuid.UUID, what: str, params: Row | None = None) -> Any:
        """A stats read."""
        return await self.host.read(user_id, what, params)

    async def evict(self, user_id: uuid.UUID) -> bool:
        """Forget a user's in-memory stats."""
        return await self.host.evict(user_id)
