"""The narrow interfaces the use cases depend on. `storage/` and `actors/gateway.py` implement them for real;
`services/fakes/` implements them in memory for unit tests. Nothing here knows HTTP, SQL or Ray.

Rows cross these ports as plain dicts (column name -> value) because that is what the HTTP schemas validate and
the stats code reads; each method's docstring names the keys it returns.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol

from domain.profile import AthleteProfile
from domain.track import Track

Row = dict[str, Any]


# ---------------------------------------------------------------------------------------------- Postgres repositories

class ActivityRepository(Protocol):
    """Activity summaries (Postgres `activities`, `strength_sets`, `activity_insights`)."""

    async def by_client_id(self, user_id: uuid.UUID, client_id: str) -> Row | None:
        """{activity_id, request_hash} of the activity a client id created, if any."""

    async def insert(self, row: Row) -> bool:
        """Insert a summary row; False when a twin (same user + client id, or same id) already exists."""

    async def insert_sets(self, activity_id: uuid.UUID, sets: Sequence[Row]) -> None:
        """Store strength sets {exercise, reps, weight_kg, rpe, rest_s} in order."""

    async def get(self, activity_id: uuid.UUID, user_id: uuid.UUID, *, for_update: bool = False) -> Row | None:
        """Every column of a user's activity plus `sets` and `insights`; None if missing or someone else's."""

    async def status(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
        """'live' or 'saved' for a user's activity, None if missing or someone else's."""

    async def list(self, user_id: uuid.UUID, *, limit: int, offset: int, before: dt.datetime | None,
                   after: dt.datetime | None, sport: str | None) -> list[Row]:
        """A user's saved activities (summary columns), newest first."""

    async def update(self, activity_id: uuid.UUID, changes: Row) -> Row:
        """Apply column changes and bump the version; returns {version, updated_at}."""

    async def delete(self, activity_id: uuid.UUID, buckets: Sequence[int] | None = None) -> None:
        """Delete the summary and queue its sample partitions (its own, or `buckets`) for purging."""

    async def athlete_profile(self, user_id: uuid.UUID) -> AthleteProfile:
        """The profile processing uses (defaults where the user left a field empty)."""


class UnitOfWork(Protocol):
    """One Postgres transaction and the repositories bound to it. Events emitted through it are written to the
    outbox in the same transaction at `commit()`; leaving the block without `commit()` rolls everything back."""

    activities: ActivityRepository
    users: Any        # services.ports.UserRepository (accounts)
    live: Any         # services.ports.LiveRepository (live workouts)
    goals: Any        # services.ports.GoalRepository (progress)
    stats: Any        # services.ports.StatsRepository (progress)
    outbox: Any       # services.ports.OutboxRepository (event delivery)

    def emit(self, event_type: str, user_id: uuid.UUID, aggregate_id: uuid.UUID,
             payload: Row | None = None) -> uuid.UUID:
        """Announce a change; written to the outbox at commit (and dropped on rollback). Returns the event id."""

    async def commit(self) -> None:
        """Write the emitted events and commit."""

    async def rollback(self) -> None:
        """Undo everything since the block began (also what leaving without commit does)."""

    async def __aenter__(self) -> "UnitOfWork": ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


# ---------------------------------------------------------------------------------------------- Cassandra samples

class SampleStore(Protocol):
    """Every GPS and sensor point, in columnar chunks (Cassandra `samples`)."""

    def buckets_of(self, track: Track) -> list[int]:
        """The time buckets (partitions) a track's points fall in."""

    async def mark_pending(self, activity_id: uuid.UUID, user_id: uuid.UUID, buckets: Sequence[int]) -> None:
        """Record that samples are written ahead of their summary (the reconciler purges them if it never commits)."""

    async def clear_pending(self, activity_id: uuid.UUID) -> None:
        """The summary committed: the samples are no longer at risk of being orphans."""

    async def write_track(self, activity_id: uuid.UUID, track: Track) -> list[int]:
        """Write every point (idempotent upserts); returns the sorted buckets written."""

    async def read_track(self, activity_id: uuid.UUID, buckets: Sequence[int]) -> Track:
        """Every stored point of an activity, in time order."""

    async def write_batch(self, activity_id: uuid.UUID, seq: int, track: Track) -> int:
        """Store live batch `seq` (idempotent); returns its bucket."""

    async def read_batches(self, activity_id: uuid.UUID) -> dict[int, Track]:
        """Every stored live batch of an activity, by sequence number."""

    async def purge(self, activity_id: uuid.UUID, buckets: Sequence[int]) -> None:
        """Delete sample partitions now (idempotent)."""


class Purges(Protocol):
    """The queue of sample partitions to delete, drained after a delete and by the janitor."""

    async def run_pending(self, limit: int = 200) -> int:
        """Purge queued partitions, removing each queue row after Cassandra confirmed; returns how many."""


# ---------------------------------------------------------------------------------------------- actors (gateway)

class WorkoutShards(Protocol):
    """The live-workout actors, reached through actors.gateway (errors arrive as StrideError subclasses)."""

    async def ingest(self, activity_id: uuid.UUID, user_id: uuid.UUID, seq: int, track: Track,
                     absolute: bool) -> Row: ...

    async def set_paused(self, activity_id: uuid.UUID, user_id: uuid.UUID, paused: bool) -> Row: ...

    async def metrics(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> Row: ...

    async def finish(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> Row: ...

    async def discard(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> Row: ...


class StatsShards(Protocol):
    """The per-user stats actors, reached through actors.gateway."""

    async def read(self, user_id: uuid.UUID, what: str, params: Row | None = None) -> Any: ...

    async def reload_goals(self, user_id: uuid.UUID) -> int: ...


# ---------------------------------------------------------------------------------------------- CPU work

class Offload(Protocol):
    """Runs CPU-bound work (parsing, hashing, processing) off the event loop: services.compute.offload."""

    async def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...
