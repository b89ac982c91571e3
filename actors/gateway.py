"""The one way to call an actor: routing by key, typed errors across the Ray boundary, a dead actor -> 503.

- Routing: `shard_for(key, n)` is the only hash that maps an activity id or a user id to its shard.
- Errors: an actor method raises `domain.errors.StrideError` subclasses; Ray wraps them in `RayTaskError`; `call`
  re-raises the original error here, so a `NotFound` raised in a shard is a `NotFound` in the service.
- Availability: a dead, restarting or unreachable actor (`RayActorError`, `ActorUnavailableError`, a timeout) is
  `Unavailable("actors")` with a short Retry-After, never a 500.

The gateways implement the services' ports (`services.ports.WorkoutShards`, `StatsShards`).
"""

from __future__ import annotations

import asyncio
import uuid
import zlib
from collections.abc import Sequence
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError, RayTaskError

from domain.errors import StrideError, Unavailable
from domain.track import Track

RETRY_AFTER_S = 1


def shard_for(key: uuid.UUID | str, shards: int) -> int:
    """The shard (0..shards-1) that owns `key` (an activity id or a user id): crc32 of its 16 bytes."""
    if isinstance(key, str):
        key = uuid.UUID(key)
    return zlib.crc32(key.bytes) % shards


async def call(handle: Any, method: str, *args: Any, timeout_s: float | None = None, what: str = "actors") -> Any:
    """Invoke `handle.method.remote(*args)` and await it, translating Ray's failures (see module docstring)."""
    try:
        ref = getattr(handle, method).remote(*args)
        if timeout_s is None:
            return await ref
        return await asyncio.wait_for(ref, timeout_s)
    except RayTaskError as exc:
        cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else None
        if isinstance(cause, StrideError):
            raise cause from None
        raise
    except (TimeoutError, RayActorError, ActorUnavailableError, GetTimeoutError) as exc:
        raise Unavailable(
            what, type(exc).__name__, retry_after_s=RETRY_AFTER_S, message=f"{what} restarting or unreachable, retry"
        ) from exc


class WorkoutShardsGateway:
    """services.ports.WorkoutShards over the WorkoutShard actors."""

    def __init__(self, handles: Sequence[Any]) -> None:
        self.handles = list(handles)

    def _owner(self, activity_id: uuid.UUID) -> Any:
        return self.handles[shard_for(activity_id, len(self.handles))]

    async def _call(self, method: str, activity_id: uuid.UUID, *args: Any) -> Any:
        return await call(self._owner(activity_id), method, activity_id, *args, what="live workouts")

    async def ingest(
        self, activity_id: uuid.UUID, user_id: uuid.UUID, seq: int, track: Track, absolute: bool
    ) -> dict[str, Any]:
        return await self._call("ingest", activity_id, user_id, seq, track, absolute)  # type: ignore[no-any-return]

    async def set_paused(self, activity_id: uuid.UUID, user_id: uuid.UUID, paused: bool) -> dict[str, Any]:
        return await self._call("set_paused", activity_id, user_id, paused)  # type: ignore[no-any-return]

    async def metrics(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        return await self._call("metrics", activity_id, user_id)  # type: ignore[no-any-return]

    async def finish(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        return await self._call("finish", activity_id, user_id)  # type: ignore[no-any-return]

    async def discard(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        return await self._call("discard", activity_id, user_id)  # type: ignore[no-any-return]

    async def end_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        """Account erasure: every shard closes the user's sessions (services.ports.WorkoutShards.end_user);
        Unavailable unless every shard confirmed."""
        closed = await asyncio.gather(*(call(h, "end_user", user_id, what="live workouts") for h in self.handles))
        return [activity_id for ids in closed for activity_id in ids]

    async def ping_all(self, timeout_s: float) -> None:
        """Every shard answers (for /ready)."""
        await asyncio.gather(
            *(call(h, "ping", timeout_s=timeout_s, what=f"workout shard {i}") for i, h in enumerate(self.handles))
        )


class StatsShardsGateway:
    """services.ports.StatsShards over the StatsShard actors."""

    def __init__(self, handles: Sequence[Any]) -> None:
        self.handles = list(handles)

    def owner_index(self, user_id: uuid.UUID) -> int:
        """Which shard owns a user's stats."""
        return shard_for(user_id, len(self.handles))

    def _owner(self, user_id: uuid.UUID) -> Any:
        return self.handles[self.owner_index(user_id)]

    async def read(self, user_id: uuid.UUID, what: str, params: dict[str, Any] | None = None) -> Any:
        return await call(self._owner(user_id), "read", user_id, what, params, what="stats")

    async def reload_goals(self, user_id: uuid.UUID) -> int:
        return await call(self._owner(user_id), "reload_goals", user_id, what="stats")  # type: ignore[no-any-return]

    async def apply_events(self, index: int, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Hand a batch of events (already grouped by owner) to shard `index`; returns the failed ones
        [{seq, event_id, error}]."""
        return await call(self.handles[index], "apply_events", events, what="stats")  # type: ignore[no-any-return]

    async def ping_all(self, timeout_s: float) -> None:
        """Every shard answers (for /ready)."""
        await asyncio.gather(
            *(call(h, "ping", timeout_s=timeout_s, what=f"stats shard {i}") for i, h in enumerate(self.handles))
        )


def is_actor_failure(exc: BaseException) -> bool:
    """True for the Ray failures `call` turns into Unavailable (for code that holds raw refs)."""
    return isinstance(exc, (RayActorError, ActorUnavailableError, GetTimeoutError))


__all__ = ["StatsShardsGateway", "WorkoutShardsGateway", "call", "is_actor_failure", "ray", "shard_for"]
