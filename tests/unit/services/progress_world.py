"""A progress world in memory: the fake database, two StatsHosts (the real shard logic) behind fake shards, the
fake Redis cache, the dispatcher's logic with the stats consumer, and the ProgressService. No Ray, no services."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from actors.dispatcher import Dispatch, stats_consumer
from actors.stats_shard import StatsHost
from domain.events import RetryPolicy
from domain.progress.facts import ActivityFact
from services.fakes import FakeDatabase, FakeStatsCache, FakeStatsShards
from services.progress import ProgressLimits, ProgressService

T = TypeVar("T")
TODAY = dt.date.today()
UTC = dt.UTC


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Clock:
    """The fake database's now(), stepped by tests."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(
        self,
        *,
        limits: ProgressLimits = ProgressLimits(),
        policy: RetryPolicy = RetryPolicy(3, 1.0, 8.0),
        consumers: dict[str, Any] | None = None,
    ) -> None:
        self.clock = Clock()
        self.db = FakeDatabase(clock=self.clock)
        self.cache = FakeStatsCache()
        self.hosts = [StatsHost(self.db.uow, self.cache) for _ in range(2)]
        self.shards = FakeStatsShards(self.hosts)
        self.dispatch = Dispatch(self.db.uow, consumers or {"stats": stats_consumer(self.shards)}, policy, batch=100)  # type: ignore[arg-type]
        self.svc = ProgressService(self.db.uow, self.shards, self.cache, limits, today=lambda: TODAY)

    # ------------------------------------------------------------------ set-up

    def user(self, tz: str = "UTC") -> uuid.UUID:
        user_id = uuid.uuid4()
        self.db.tables["users"][user_id] = {"timezone": tz}
        return user_id

    def save_activity(
        self,
        user_id: uuid.UUID,
        start: dt.datetime,
        km: float,
        *,
        event: str = "activity_created",
        activity_id: uuid.UUID | None = None,
        revision: int = 1,
        **fact: Any,
    ) -> uuid.UUID:
        """Commit an activity's current row (as its fact) and its event, like the activity service does."""
        activity_id = activity_id or uuid.uuid4()

        async def go() -> None:
            async with self.db.uow() as uow:
                uow.tables["facts"][activity_id] = ActivityFact(
                    str(activity_id),
                    fact.pop("sport", "running"),
                    start,
                    distance_m=km * 1000,
                    moving_s=km * 300,
                    revision=revision,
                    **fact,
                )
                uow.emit(event, user_id, activity_id)
                await uow.commit()

        run(go())
        return activity_id

    def delete_activity(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> None:
        async def go() -> None:
            async with self.db.uow() as uow:
                uow.tables["facts"].pop(activity_id, None)
                uow.emit("activity_deleted", user_id, activity_id)
                await uow.commit()

        run(go())

    def drain(self, rounds: int = 10, step_s: float = 0.0) -> None:
        """Run dispatch rounds (stepping the clock between them) until nothing is due."""
        for _ in range(rounds):
            handled = run(self.dispatch.run_once())
            self.clock.now += step_s
            if not handled and not step_s:
                return

    # ------------------------------------------------------------------ looking

    def events(self, kind: str | None = None, user_id: uuid.UUID | None = None) -> list[Any]:
        return [e for e in self.db.outbox if kind in (None, e.event_type) and user_id in (None, e.user_id)]

    def pending(self, consumer: str = "stats") -> list[int]:
        return sorted(seq for seq, c in self.db.tables["outbox_deliveries"] if c == consumer)

    def dead(self, consumer: str = "stats") -> list[int]:
        return sorted(seq for seq, c in self.db.tables["outbox_dead_letters"] if c == consumer)

    def stats(self, user_id: uuid.UUID) -> dict[str, Any]:
        import orjson

        return orjson.loads(run(self.svc.stats(user_id)).body)  # type: ignore[no-any-return]
