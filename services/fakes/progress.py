"""Fakes for the progress ports: goals, the stats repository, the outbox delivery state, the stats cache and the
stats shards (a real StatsHost per shard, without Ray)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from domain.errors import Unavailable
from domain.events import RetryPolicy
from domain.progress.facts import ActivityFact

Row = dict[str, Any]


class FakeGoals:
    """services.ports.GoalRepository over the unit of work's tables ("goals": {goal_id: row})."""

    def __init__(self, tables: dict[str, Any]) -> None:
        self.t = tables

    async def list(self, user_id: uuid.UUID) -> list[Row]:
        rows = [dict(r) for r in self.t["goals"].values() if r["user_id"] == user_id]
        return sorted(rows, key=lambda r: (r["created_at"], str(r["goal_id"])))

    async def get(self, goal_id: uuid.UUID, user_id: uuid.UUID) -> Row | None:
        row = self.t["goals"].get(goal_id)
        return dict(row) if row is not None and row["user_id"] == user_id else None

    async def count_locked(self, user_id: uuid.UUID) -> int:
        return sum(1 for r in self.t["goals"].values() if r["user_id"] == user_id)

    async def insert(self, row: Row) -> None:
        now = dt.datetime.now(dt.UTC)
        self.t["goals"][row["goal_id"]] = {"sport": None, "end_date": None, **row, "created_at": now, "updated_at": now}

    async def update(self, goal_id: uuid.UUID, changes: Row) -> None:
        self.t["goals"][goal_id].update(changes, updated_at=dt.datetime.now(dt.UTC))

    async def delete(self, goal_id: uuid.UUID) -> bool:
        return self.t["goals"].pop(goal_id, None) is not None


class FakeStats:
    """services.ports.StatsRepository: users ("users": {user_id: {timezone, ...}}), facts ("facts": {activity_id:
    ActivityFact}, what the activity rows would give), checkpoints ("user_stats") and insights ("insights")."""

    def __init__(self, tables: dict[str, Any]) -> None:
        self.t = tables

    async def lock_user(self, user_id: uuid.UUID) -> bool:
        return user_id in self.t["users"]

    async def user_context(self, user_id: uuid.UUID) -> Row | None:
        row = self.t["users"].get(user_id)
        return {"timezone": "UTC", **row} if row is not None else None

    async def fact(self, activity_id: uuid.UUID) -> ActivityFact | None:
        fact: ActivityFact | None = self.t["facts"].get(activity_id)
        return fact

    async def load_checkpoint(self, user_id: uuid.UUID) -> Row | None:
        state: Row | None = self.t["user_stats"].get(user_id)
        return state

    async def save_checkpoint(self, user_id: uuid.UUID, state: Row) -> None:
        self.t["user_stats"][user_id] = state

    async def save_insights(self, activity_id: uuid.UUID, insights: list[Row]) -> None:
        if activity_id in self.t["facts"]:
            self.t["insights"][activity_id] = list(insights)


class FakeOutbox:
    """services.ports.OutboxRepository over the tables "outbox" (EmittedEvent list), "outbox_deliveries" and
    "outbox_dead_letters" ({(seq, consumer): {...}}); time is the database's clock (seconds)."""

    def __init__(self, tables: dict[str, Any], clock: Callable[[], float]) -> None:
        self.t = tables
        self.clock = clock

    def _events(self) -> dict[int, Any]:
        return {e.seq: e for e in self.t["outbox"]}

    async def due(self, consumer: str, limit: int) -> list[Row]:
        now, events = self.clock(), self._events()
        keys = sorted(
            (d["next_attempt_at"], seq)
            for (seq, c), d in self.t["outbox_deliveries"].items()
            if c == consumer and d["next_attempt_at"] <= now
        )
        out = []
        for _, seq in keys[:limit]:
            e, d = events[seq], self.t["outbox_deliveries"][(seq, consumer)]
            out.append(
                {
                    "seq": seq,
                    "attempts": d["attempts"],
                    "event_id": e.event_id,
                    "event_type": e.event_type,
                    "user_id": e.user_id,
                    "aggregate_id": e.aggregate_id,
                    "payload": dict(e.payload),
                    "created_at": e.created_at,
                }
            )
        return out

    async def delivered(self, consumer: str, seqs: Sequence[int]) -> None:
        for seq in seqs:
            self.t["outbox_deliveries"].pop((seq, consumer), None)

    async def failed(self, consumer: str, failures: Mapping[int, str], policy: RetryPolicy) -> list[int]:
        dead = []
        for seq, error in failures.items():
            d = self.t["outbox_deliveries"].get((seq, consumer))
            if d is None:
                continue
            d["attempts"] += 1
            d["last_error"] = error
            d["next_attempt_at"] = self.clock() + policy.delay_s(d["attempts"])
            if d["attempts"] >= policy.max_attempts:
                del self.t["outbox_deliveries"][(seq, consumer)]
                self.t["outbox_dead_letters"][(seq, consumer)] = {
                    "attempts": d["attempts"],
                    "last_error": error,
                    "failed_at": self.clock(),
                }
                dead.append(seq)
        return sorted(dead)

    async def dead_letters(self, limit: int = 100, consumer: str | None = None) -> list[Row]:
        events = self._events()
        rows = [
            {
                "seq": seq,
                "consumer": c,
                **x,
                "event_id": events[seq].event_id,
                "event_type": events[seq].event_type,
                "user_id": events[seq].user_id,
            }
            for (seq, c), x in self.t["outbox_dead_letters"].items()
            if consumer in (None, c)
        ]
        return sorted(rows, key=lambda r: (r["failed_at"], r["seq"]))[:limit]

    async def replay(self, seq: int | None = None, consumer: str | None = None) -> int:
        back = [k for k in self.t["outbox_dead_letters"] if seq in (None, k[0]) and consumer in (None, k[1])]
        for key in back:
            del self.t["outbox_dead_letters"][key]
            self.t["outbox_deliveries"].setdefault(
                key, {"attempts": 0, "next_attempt_at": self.clock(), "last_error": None}
            )
        return len(back)

    async def prune(self, retention_s: float, limit: int = 1000) -> int:
        held = {seq for seq, _ in self.t["outbox_deliveries"]} | {seq for seq, _ in self.t["outbox_dead_letters"]}
        cutoff = self.clock() - retention_s
        gone = [e.seq for e in self.t["outbox"] if e.created_at < cutoff and e.seq not in held][:limit]
        self.t["outbox"][:] = [e for e in self.t["outbox"] if e.seq not in set(gone)]
        return len(gone)

    async def backlog(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for kind, table in (("pending", "outbox_deliveries"), ("dead", "outbox_dead_letters")):
            for _, consumer in self.t[table]:
                out.setdefault(consumer, {"pending": 0, "dead": 0})[kind] += 1
        return out


class FakeStatsCache:
    """services.ports.StatsCache in memory, with the Redis adapter's versioning; `down = True` -> Unavailable.
    `calls` counts round trips per operation."""

    def __init__(self) -> None:
        self.versions: dict[uuid.UUID, int] = {}
        self.values: dict[tuple[uuid.UUID, str, str], bytes] = {}
        self.calls: dict[str, int] = {"get": 0, "put": 0, "invalidate": 0}
        self.down = False

    def _check(self, op: str) -> None:
        self.calls[op] += 1
        if self.down:
            raise Unavailable("redis", "fake outage")

    async def get(self, user_id: uuid.UUID, what: str, key: str) -> tuple[str, bytes | None]:
        self._check("get")
        version = str(self.versions.get(user_id, 0))
        return version, self.values.get((user_id, what, f"{version}:{key}"))

    async def put(self, user_id: uuid.UUID, what: str, key: str, version: str, value: bytes) -> None:
        self._check("put")
        if str(self.versions.get(user_id, 0)) == version:
            self.values[(user_id, what, f"{version}:{key}")] = value

    async def forget(self, user_id: uuid.UUID) -> None:
        if self.down:
            raise Unavailable("redis", "fake outage")
        self.versions.pop(user_id, None)
        self.values = {k: v for k, v in self.values.items() if k[0] != user_id}

    async def invalidate(self, user_id: uuid.UUID) -> None:
        self._check("invalidate")
        self.versions[user_id] = self.versions.get(user_id, 0) + 1
        self.values = {k: v for k, v in self.values.items() if k[0] != user_id}


class FakeStatsShards:
    """services.ports.StatsShards over in-process StatsHosts (the real shard logic, no Ray); `down = True` makes
    every call raise Unavailable like a restarting actor. `calls` records (method, user_id)."""

    def __init__(self, hosts: Sequence[Any]) -> None:
        self.hosts = list(hosts)
        self.calls: list[tuple[str, uuid.UUID]] = []
        self.down = False

    def owner_index(self, user_id: uuid.UUID) -> int:
        import zlib

        return zlib.crc32(user_id.bytes) % len(self.hosts)

    def _owner(self, method: str, user_id: uuid.UUID) -> Any:
        self.calls.append((method, user_id))
        if self.down:
            raise Unavailable("stats", "fake restart")
        return self.hosts[self.owner_index(user_id)]

    async def read(self, user_id: uuid.UUID, what: str, params: Row | None = None) -> Any:
        return await self._owner("read", user_id).read(user_id, what, params)

    async def reload_goals(self, user_id: uuid.UUID) -> int:
        result: int = await self._owner("reload_goals", user_id).reload_goals(user_id)
        return result

    async def apply_events(self, index: int, events: list[Row]) -> list[Row]:
        if self.down:
            raise Unavailable("stats", "fake restart")
        result: list[Row] = await self.hosts[index].apply_events(events)
        return result
