"""Live workout use cases: start, sample batches, pause/resume, live metrics (owner and followers), share links,
finish. Plus the rules a live workout's shard applies (batch times, pause windows, the finished summary), so the
HTTP side, the WebSocket side and the WorkoutShard actor share one definition of each.

A live workout is a virtual actor in one WorkoutShard (reached through the WorkoutShards port): the shard stores
each batch in Cassandra before acknowledging it, keeps the running metrics, and on finish runs the upload's
processing code path over every stored sample, off its event loop. This service holds what needs no shard:
creating the row, share links, reading the latest metrics from the live feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from domain.errors import Conflict, NotFound
from domain.naming import default_name
from domain.process import process_activity
from domain.profile import AthleteProfile
from domain.track import CHANNELS, Track
from services.activities import check_times, metric_changes
from services.compute import offload as default_offload
from services.ports import LiveFeed, Offload, UnitOfWorkFactory, WorkoutShards

LIVE_NS = uuid.UUID("0b8c5a3e-7f0a-4b59-8d7e-2c1f9e6a4b10")
SHARE_PREFIX = "slt_"
LIVE_REQUEST_HASH = "live"  # request_hash of a live row (storage.live.LIVE_REQUEST_HASH)
T = TypeVar("T")


@dataclass(frozen=True)
class LiveLimits:
    """What one live workout may hold: how far after its start a point may lie, how many points in all, and how
    many batches a shard buffers beyond a gap before asking the client to fill it."""

    max_span_s: float = 30 * 86400.0
    max_points: int = 200_000
    max_ahead: int = 64


@dataclass(frozen=True)
class Follower:
    """What a valid share token opens: one live workout of one owner, through one share link."""

    share_id: uuid.UUID
    activity_id: uuid.UUID
    owner_id: uuid.UUID


def share_token_hash(token: str) -> bytes:
    """How a share token is stored (sha256: a database leak does not reveal working links)."""
    return hashlib.sha256(token.encode()).digest()


def live_activity_id(user_id: uuid.UUID, client_id: str | None) -> uuid.UUID:
    """A retried start with the same client id lands on the same workout."""
    return uuid.uuid5(LIVE_NS, f"{user_id}:{client_id}") if client_id else uuid.uuid4()


# ---------------------------------------------------------------------------------------------- batch rules


def normalise_batch(track: Track, start_time: dt.datetime, absolute: bool, limits: LiveLimits) -> Track:
    """A batch as the shard stores it: times in seconds from the start (absolute ones shifted), checked against the
    workout's span, sorted by time."""
    batch = track.replace(t=track.t - start_time.timestamp()) if absolute else track
    check_times(batch, limits.max_span_s, "points")
    if len(batch) > 1 and bool((np.diff(batch.t) < 0).any()):
        batch = batch.take(np.argsort(batch.t, kind="stable"))
    return batch


# ---------------------------------------------------------------------------------------------- pauses


def paused_at(t: np.ndarray, pauses: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """For each time in `t`: was the workout manually paused then? A pause or resume recorded at offset `e`
    governs the points after `e` (it was recorded when `e` was the latest sample); events are in recorded order,
    so of two at the same offset the later one wins."""
    state = np.zeros(len(t), dtype=bool)
    for event in pauses:
        state[t > float(event["t"])] = event["type"] == "pause"
    return state


def pause_windows(pauses: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """(start, end) offsets of manual pauses; an open pause runs to infinity."""
    windows: list[tuple[float, float]] = []
    start: float | None = None
    for event in sorted(pauses, key=lambda e: float(e["t"])):
        if event["type"] == "pause" and start is None:
            start = float(event["t"])
        elif event["type"] == "resume" and start is not None:
            windows.append((start, float(event["t"])))
            start = None
    if start is not None:
        windows.append((start, float("inf")))
    return windows


def join_batches(batches: Mapping[int, Track], pauses: Sequence[Mapping[str, Any]]) -> Track:
    """Every stored batch as one track (in batch order), without the points recorded during manual pauses."""
    if not batches:
        return Track.empty()
    ordered = [batches[s] for s in sorted(batches)]
    track = Track(**{c: np.concatenate([getattr(b, c) for b in ordered]) for c in CHANNELS})
    keep = np.ones(len(track), dtype=bool)
    for start, end in pause_windows(pauses):
        keep &= ~((track.t > start) & (track.t < end))
    return track.take(np.flatnonzero(keep))


def finished_summary(
    sport: str,
    start_time: dt.datetime,
    batches: Mapping[int, Track],
    pauses: Sequence[Mapping[str, Any]],
    profile: AthleteProfile,
) -> dict[str, Any]:
    """The columns a finished live workout gets: the upload's processing (one code path) over every stored sample.
    CPU work: run it through `offload`."""
    track = join_batches(batches, pauses)
    processed = process_activity(
        sport, track, profile=profile, start_year=start_time.year, duration_s=None if len(track) else 0.0
    )
    return {**metric_changes(processed), "status": "saved", "name": default_name(sport, start_time)}


# ---------------------------------------------------------------------------------------------- use cases


class Coalesce:
    """Concurrent identical lookups share one call: a burst of followers opening one share link costs one query,
    not one each. Nothing is kept after the call returns (no stale answers)."""

    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    async def __call__(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(fn())
            self._inflight[key] = future
            future.add_done_callback(lambda _: self._inflight.pop(key, None))
        result: T = await asyncio.shield(future)
        return result


class LiveService:
    """Start, feed, follow, share and finish live workouts."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        workouts: WorkoutShards,
        feed: LiveFeed,
        limits: LiveLimits = LiveLimits(),
        offload: Offload = default_offload,
    ) -> None:
        self.uow = uow
        self.workouts = workouts
        self.feed = feed
        self.limits = limits
        self.offload = offload
        self._coalesce = Coalesce()

    async def start(
        self, user_id: uuid.UUID, sport: str, start_time: dt.datetime | None = None, client_id: str | None = None
    ) -> tuple[uuid.UUID, bool]:
        """Create the live workout; returns (activity_id, created). A retry with the same client id returns the
        same id with created=False; a client id already used by an upload is a Conflict."""
        start = start_time or dt.datetime.now(dt.UTC)
        activity_id = live_activity_id(user_id, client_id)
        async with self.uow() as uow:
            if await uow.live.create(activity_id, user_id, sport, start, client_id):
                await uow.commit()
                return activity_id, True
            twin = await uow.activities.by_client_id(user_id, client_id) if client_id else None
        if twin is None:
            raise Conflict("live workout already exists")
        if twin["request_hash"] != LIVE_REQUEST_HASH:
            raise Conflict(
                "this client_id was already used for an uploaded activity",
                details={"activity_id": str(twin["activity_id"])},
            )
        return twin["activity_id"], False

    async def samples(
        self, user_id: uuid.UUID, activity_id: uuid.UUID, seq: int, track: Track, absolute: bool
    ) -> dict[str, Any]:
        """Hand batch `seq` to the workout's shard; the answer comes once Cassandra has it:
        {acked_seq, missing, highest_seq, duplicate, metrics}. Offsets are checked here, before any shard work;
        absolute times once the shard knows the start."""
        if not absolute:
            check_times(track, self.limits.max_span_s, "points")
        body: dict[str, Any] = await self.workouts.ingest(activity_id, user_id, seq, track, absolute)
        return body

    async def set_paused(self, user_id: uuid.UUID, activity_id: uuid.UUID, paused: bool) -> dict[str, Any]:
        """Manual pause (True) or resume (False); returns the live metrics."""
        body: dict[str, Any] = await self.workouts.set_paused(activity_id, user_id, paused)
        return body

    async def metrics(self, owner_id: uuid.UUID, activity_id: uuid.UUID) -> dict[str, Any]:
        """Latest metrics of a workout of `owner_id`: the live feed's copy when there is one (a key under the
        owner's prefix: someone else's id finds nothing), else the shard's (NotFound for someone else's).
        Concurrent reads of one workout share one lookup; treat the answer as read-only."""

        async def read() -> dict[str, Any]:
            cached = await self.feed.latest(owner_id, activity_id)
            if cached is not None:
                return cached
            body: dict[str, Any] = await self.workouts.metrics(activity_id, owner_id)
            return body

        return await self._coalesce(("metrics", owner_id, activity_id), read)

    async def follow(self, activity_id: uuid.UUID, token: str) -> Follower:
        """What a share token opens; NotFound if it is unknown, revoked, for another workout, or the workout ended."""
        if not token.startswith(SHARE_PREFIX) or len(token) > 128:
            raise NotFound("live workout")
        token_hash = share_token_hash(token)

        async def lookup() -> dict[str, Any] | None:
            async with self.uow() as uow:
                return await uow.live.share_target(token_hash)

        target = await self._coalesce(("share", token_hash), lookup)
        if target is None or target["activity_id"] != activity_id:
            raise NotFound("live workout")
        return Follower(target["share_id"], activity_id, target["user_id"])

    async def follower_metrics(self, activity_id: uuid.UUID, token: str) -> dict[str, Any]:
        """The metrics a follower sees through a share link."""
        follower = await self.follow(activity_id, token)
        return await self.metrics(follower.owner_id, activity_id)

    async def share(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> tuple[uuid.UUID, str]:
        """A new read-only share token for a live workout of the user's: (share_id, token). The token is shown
        once; only its hash is stored. It dies when revoked or when the workout ends."""
        token = SHARE_PREFIX + secrets.token_urlsafe(24)
        async with self.uow() as uow:
            live = await uow.live.get(activity_id)
            if live is None or live["user_id"] != user_id:
                raise NotFound("live workout")
            row = await uow.live.create_share(activity_id, user_id, share_token_hash(token))
            await uow.commit()
        return row["share_id"], token

    async def revoke_share(self, user_id: uuid.UUID, activity_id: uuid.UUID, share_id: uuid.UUID) -> None:
        """Revoke one share link of the user's workout; sockets opened with it close within seconds."""
        async with self.uow() as uow:
            if await uow.activities.status(activity_id, user_id) is None or not await uow.live.revoke_share(
                activity_id, share_id
            ):
                raise NotFound("share link")
            await uow.commit()
        await self.feed.announce_share_revoked(share_id, activity_id)

    async def finish(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> dict[str, Any]:
        """End the workout (its shard runs the upload's processing over every stored sample) and return the saved
        activity. Finishing a finished workout returns it again."""
        async with self.uow() as uow:
            status = await uow.activities.status(activity_id, user_id)
        if status is None:
            raise NotFound("activity")
        if status == "live":
            with contextlib.suppress(NotFound):  # finished (or discarded) meanwhile: read what is there
                await self.workouts.finish(activity_id, user_id)
        async with self.uow() as uow:
            row = await uow.activities.get(activity_id, user_id)
        if row is None:
            raise NotFound("activity")
        return row
