"""What one Serve replica holds: storage clients and actor handles, built from settings in the replica."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from config.settings import Settings
from storage.cassandra import Cassandra
from storage.errors import StorageUnavailable
from storage.postgres import Postgres
from storage.redis_store import build_redis, ping as redis_ping


@dataclass
class Resources:
    """Per-replica clients; nothing here connects until first used."""

    settings: Settings
    pg: Postgres
    cassandra: Cassandra
    redis: Any
    actors: dict[str, Any] = field(default_factory=dict)
    workout_shards: list[Any] = field(default_factory=list)
    stats_shards: list[Any] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, actors: dict[str, Any] | None = None,
              workout_shards: list[Any] | None = None, stats_shards: list[Any] | None = None) -> "Resources":
        """Construct clients from settings (no network I/O)."""
        return cls(settings=settings, pg=Postgres(settings), cassandra=Cassandra(settings),
                   redis=build_redis(settings), actors=actors or {}, workout_shards=workout_shards or [],
                   stats_shards=stats_shards or [])

    def workout_shard(self, activity_id: Any) -> Any:
        """The WorkoutShard that owns a live activity."""
        from actors.workout_shard import shard_index

        return self.workout_shards[shard_index(activity_id, len(self.workout_shards))]

    async def check_actors(self) -> None:
        """Every actor the replica depends on answers a ping (all pinged at once)."""
        named = [*self.actors.items(), *((f"workout_shard_{i}", h) for i, h in enumerate(self.workout_shards)),
                 *((f"stats_shard_{i}", h) for i, h in enumerate(self.stats_shards))]
        results = await asyncio.gather(
            *(asyncio.wait_for(asyncio.wrap_future(h.ping.remote().future()), self.settings.ready_timeout_s)
              for _, h in named), return_exceptions=True)
        failed = [f"{name}: {type(r).__name__}" for (name, _), r in zip(named, results) if isinstance(r, BaseException)]
        if failed:
            raise StorageUnavailable("actors", ", ".join(failed))

    async def close(self) -> None:
        """Release every client."""
        await self.pg.close()
        self.cassandra.close()
        await self.redis.aclose()


_current: Resources | None = None


def set_resources(resources: Resources | None) -> None:
    """Install this process's Resources (called by the replica constructor)."""
    global _current
    _current = resources


def get_resources() -> Resources:
    """This process's Resources."""
    if _current is None:
        raise RuntimeError("Resources not initialised in this process")
    return _current
