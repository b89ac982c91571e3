"""WorkoutShard: hosts the live WorkoutSessions whose id hashes to it.

Why an actor: a live workout is stateful (sequence numbers, running metrics, pauses) and is fed every few
seconds; keeping that state next to its writer avoids re-reading storage per batch. One Ray process per workout
would not scale to 100k workouts, so sessions are virtual actors: plain objects owned by one shard each, chosen by
a stable hash (actors.gateway.shard_for). A batch is acknowledged only after Cassandra has it; a restarted shard
rebuilds a session from Postgres and Cassandra on the next request, so an acknowledged sample is never lost.

`WorkoutHost` is the shard's logic with its ports passed in (unit-tested with fakes, no Ray); `WorkoutShard` is
the Ray actor that builds the real adapters from settings and delegates. Methods return plain bodies and raise
domain errors (NotFound, Conflict, Invalid, TooLarge, Unavailable), re-raised on the caller's side by the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import ray

from actors.workout_session import WorkoutSession
from config.settings import Settings
from domain.errors import Conflict, NotFound, TooLarge, Unavailable
from domain.track import Track
from services.compute import offload as default_offload
from services.live import LiveLimits, finished_summary, normalise_batch
from services.ports import LiveFeed, Offload, Purges, SampleStore, UnitOfWorkFactory
from storage.cassandra import Cassandra
from storage.sample_writer import SampleWriter
from storage.samples import SampleStore as CassandraSamples
from storage.samples import live_bucket

log = logging.getLogger("stride.workouts")

T = TypeVar("T")
ENDED_USER_TTL_S = 3600.0  # how long a shard refuses calls for an erased user (the rows are gone long before)


class WorkoutHost:
    """The live sessions of one shard and every command on them, each under its session's lock."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        samples: SampleStore,
        feed: LiveFeed,
        purges: Purges,
        limits: LiveLimits = LiveLimits(),
        offload: Offload = default_offload,
        *,
        idle_finish_s: float = 7200.0,
    ) -> None:
        self.uow = uow
        self.samples = samples
        self.feed = feed
        self.purges = purges
        self.limits = limits
        self.offload = offload
        self.idle_finish_s = idle_finish_s
        self.sessions: dict[uuid.UUID, WorkoutSession] = {}
        self._loading: dict[uuid.UUID, asyncio.Future[WorkoutSession | None]] = {}
        self._touched: set[uuid.UUID] = set()
        self._ended_users: dict[uuid.UUID, float] = {}  # user id -> monotonic time until which calls are refused

    # ------------------------------------------------------------------ session lookup

    def _user_ended(self, user_id: uuid.UUID) -> bool:
        until = self._ended_users.get(user_id)
        if until is None:
            return False
        if until < time.monotonic():
            del self._ended_users[user_id]
            return False
        return True

    async def _session(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> WorkoutSession:
        """The caller's open session (loaded from storage if this shard does not hold it); NotFound otherwise."""
        if self._user_ended(user_id):
            raise NotFound("live workout")
        session = self.sessions.get(activity_id)
        if session is None:
            pending = self._loading.get(activity_id)
            if pending is None:
                pending = asyncio.get_running_loop().create_future()
                self._loading[activity_id] = pending
                try:
                    session = await self._load(activity_id)
                    pending.set_result(session)
                except BaseException as exc:
                    pending.set_exception(exc)
                    pending.exception()  # retrieved: waiters get it, nobody else logs it
                    raise
                finally:
                    self._loading.pop(activity_id, None)
            else:
                session = await asyncio.shield(pending)
        if session is None or session.user_id != user_id or session.closed:
            raise NotFound("live workout")
        return session

    async def _load(self, activity_id: uuid.UUID) -> WorkoutSession | None:
        """Rebuild a session from Postgres (the live row, pause events) and Cassandra (every stored batch)."""
        async with self.uow() as uow:
            row = await uow.live.get(activity_id)
        if row is None or self._user_ended(row["user_id"]):
            return None
        batches = await self.samples.read_batches(activity_id)
        session = WorkoutSession.rebuild(
            activity_id,
            row["user_id"],
            row["type"],
            row["start_time"],
            row["pauses"],
            batches,
            row.get("sample_buckets") or (),
        )
        missing = {live_bucket(seq) for seq in batches} - session.buckets
        if missing:  # a workout from before buckets were recorded as they fill
            await self._record_buckets(session, missing)
        if self._user_ended(session.user_id):  # erased while this rebuild read storage
            return None
        self.sessions[activity_id] = session
        log.info("rebuilt session %s with %d batches (acked %d)", activity_id, len(batches), session.sequencer.acked)
        return session

    async def _locked(
        self, activity_id: uuid.UUID, user_id: uuid.UUID, action: Callable[[WorkoutSession], Awaitable[T]]
    ) -> T:
        """Run `action` on the caller's open session under its lock (NotFound if it ended while this call waited)."""
        session = await self._session(activity_id, user_id)
        async with session.lock:
            if session.closed or self._user_ended(user_id):
                raise NotFound("live workout")
            return await action(session)

    # ------------------------------------------------------------------ commands

    async def ingest(
        self, activity_id: uuid.UUID, user_id: uuid.UUID, seq: int, track: Track, absolute: bool = False
    ) -> dict[str, Any]:
        """Store batch `seq` durably, then acknowledge it; a duplicate is acknowledged without storing it again."""

        async def store(session: WorkoutSession) -> dict[str, Any]:
            batch = normalise_batch(track, session.start_time, absolute, self.limits)
            if session.sequencer.seen(seq):
                return {**session.ack(), "duplicate": True}
            if seq > session.sequencer.acked + self.limits.max_ahead:
                raise Conflict(f"batch {seq} is too far ahead; resend the missing batches first", details=session.ack())
            if session.points + len(batch) > self.limits.max_points:
                raise TooLarge(
                    f"a live workout holds at most {self.limits.max_points} points; finish it",
                    details={"field": "points", "max": self.limits.max_points, "stored": session.points},
                )
            bucket = live_bucket(seq)
            if bucket not in session.buckets:  # recorded before anything is written there: erasure can purge it
                await self._record_buckets(session, {bucket})
            await self.samples.write_batch(activity_id, seq, batch)
            session.accept(seq, batch)
            self._touched.add(activity_id)
            view = session.view()
            await self.feed.publish(session.user_id, activity_id, {"type": "metrics", **view})
            return {**session.ack(), "duplicate": False, "metrics": view}

        return await self._locked(activity_id, user_id, store)

    async def _record_buckets(self, session: WorkoutSession, buckets: set[int]) -> None:
        async with self.uow() as uow:
            await uow.live.record_buckets(session.activity_id, sorted(buckets))
            await uow.commit()
        session.buckets |= buckets

    async def set_paused(self, activity_id: uuid.UUID, user_id: uuid.UUID, paused: bool) -> dict[str, Any]:
        """Manual pause or resume at the latest sample time (stored before it takes effect)."""

        async def toggle(session: WorkoutSession) -> dict[str, Any]:
            event = session.pause_event(paused)
            if event is not None:
                async with self.uow() as uow:
                    await uow.live.save_pauses(activity_id, [*session.pauses, event])
                    await uow.commit()
                session.record_pause(event)
            view = session.view()
            await self.feed.publish(session.user_id, activity_id, {"type": "metrics", **view})
            return view

        return await self._locked(activity_id, user_id, toggle)

    async def metrics(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        """Current live metrics (rebuilding the session if this shard restarted)."""

        async def view(session: WorkoutSession) -> dict[str, Any]:
            return session.view()

        return await self._locked(activity_id, user_id, view)

    async def finish(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        """Process every stored sample with the upload's code path (off the event loop) and save the activity."""

        async def close(session: WorkoutSession) -> dict[str, Any]:
            await self._finalize(session)
            await self._close(session, "finished")
            return {"activity_id": str(activity_id)}

        return await self._locked(activity_id, user_id, close)

    async def discard(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        """Throw a live workout away: its row and share links now, its samples right after (or by the janitor)."""

        async def drop(session: WorkoutSession) -> dict[str, Any]:
            buckets = sorted(session.buckets | {live_bucket(max(session.sequencer.highest, 1))})
            async with self.uow() as uow:
                await uow.live.end(activity_id)
                await uow.activities.delete(activity_id, buckets)  # queues the purge of those partitions
                await uow.commit()
            await self._close(session, "discarded")
            try:
                await self.purges.run_pending()
            except Unavailable:
                log.warning("sample purge of %s deferred to the janitor", activity_id)
            return {"activity_id": str(activity_id)}

        return await self._locked(activity_id, user_id, drop)

    async def end_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        """Account erasure: close the user's sessions (after any in-flight command), refuse later calls for the user,
        tell the sockets. Returns the ids closed (see services.ports.WorkoutShards.end_user)."""
        self._ended_users[user_id] = time.monotonic() + ENDED_USER_TTL_S
        closed = []
        for session in [s for s in self.sessions.values() if s.user_id == user_id]:
            async with session.lock:
                if session.closed:
                    continue
                await self._close(session, "discarded")
                closed.append(session.activity_id)
        return closed

    async def evict(self, activity_id: uuid.UUID) -> bool:
        """Forget a session's memory (it is rebuilt from storage on next use)."""
        return self.sessions.pop(activity_id, None) is not None

    async def _close(self, session: WorkoutSession, how: str) -> None:
        session.closed = True
        self.sessions.pop(session.activity_id, None)
        self._touched.discard(session.activity_id)
        await self.feed.announce_end(session.user_id, session.activity_id, how)

    async def _finalize(self, session: WorkoutSession) -> None:
        batches = await self.samples.read_batches(session.activity_id)
        async with self.uow() as uow:
            profile = await uow.activities.athlete_profile(session.user_id)
        changes = await self.offload(
            finished_summary, session.sport, session.start_time, batches, session.pauses, profile
        )
        changes["sample_buckets"] = sorted({live_bucket(s) for s in batches})
        async with self.uow() as uow:
            await uow.activities.update(session.activity_id, changes)
            await uow.live.end(session.activity_id)
            uow.emit("activity_created", session.user_id, session.activity_id)
            await uow.commit()

    # ------------------------------------------------------------------ housekeeping

    async def housekeeping(self) -> None:
        """Record which sessions were active (throttled to one write per round) and finish the idle ones this shard
        holds. Idle sessions no shard holds (e.g. after a restart) are found by the janitor, which asks their shard
        to `finish` them: the same code path."""
        if self._touched:
            touched, self._touched = sorted(self._touched), set()
            try:
                async with self.uow() as uow:
                    await uow.live.touch(touched)
                    await uow.commit()
            except Exception:
                self._touched.update(touched)
                raise
        limit = time.monotonic() - self.idle_finish_s
        for activity_id, session in list(self.sessions.items()):
            if session.last_seen < limit:
                log.info("finishing idle session %s", activity_id)
                with contextlib.suppress(NotFound):  # ended meanwhile
                    await self.finish(activity_id, session.user_id)

    def stats(self) -> dict[str, Any]:
        """What this host holds."""
        return {"sessions": len(self.sessions), "loading": len(self._loading), "ended_users": len(self._ended_users)}


class ShardSamples(CassandraSamples):
    """The shard's samples: reads and purges as SampleStore does, live rows through the coalescing SampleWriter (the
    rows of every workout the shard hosts that arrive in one event-loop tick go to Cassandra together; each call
    still resolves only once Cassandra has its row)."""

    def __init__(self, cas: Cassandra, bucket_seconds: int, mode: str) -> None:
        super().__init__(cas, bucket_seconds)
        self.writer = SampleWriter(cas, mode=mode)

    async def write_batch(self, activity_id: uuid.UUID, seq: int, track: Track) -> int:
        return await self.writer.write_batch(activity_id, seq, track)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=1000)  # type: ignore[call-overload]
class WorkoutShard:
    """The Ray actor around a WorkoutHost; created only by actors.topology, called only through actors.gateway."""

    def __init__(self, settings: Settings, index: int) -> None:
        from storage.live_feed import RedisLiveFeed
        from storage.postgres import Postgres
        from storage.purges import PurgeQueue
        from storage.redis_store import build_redis
        from storage.uow import PostgresUnitOfWork

        self.settings = settings
        self.index = index
        pg = Postgres(settings)
        cas = Cassandra(settings)
        limits = LiveLimits(max_span_s=settings.max_span_s, max_points=settings.live_max_points)
        uow = cast(UnitOfWorkFactory, lambda read_only=False: PostgresUnitOfWork(pg, read_only=read_only))
        self.samples = ShardSamples(cas, settings.sample_bucket_seconds, settings.live_sample_writer)
        samples = cast(SampleStore, self.samples)
        self.host = WorkoutHost(
            uow,
            samples,
            RedisLiveFeed(build_redis(settings)),
            PurgeQueue(pg, cas),
            limits,
            idle_finish_s=settings.live_idle_finish_s,
        )
        # housekeeping starts with the actor (also after a restart by Ray), not with the first call
        self._loop_task = asyncio.get_running_loop().create_task(self._housekeeping())

    async def ping(self) -> str:
        """Liveness."""
        return "ok"

    async def stats(self) -> dict[str, Any]:
        """What this shard holds (for tests and benchmarks)."""
        return {"index": self.index, **self.host.stats(), "writer": self.samples.writer.stats()}

    async def ingest(
        self, activity_id: uuid.UUID, user_id: uuid.UUID, seq: int, track: Track, absolute: bool = False
    ) -> dict[str, Any]:
        return await self.host.ingest(activity_id, user_id, seq, track, absolute)

    async def set_paused(self, activity_id: uuid.UUID, user_id: uuid.UUID, paused: bool) -> dict[str, Any]:
        return await self.host.set_paused(activity_id, user_id, paused)

    async def metrics(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        return await self.host.metrics(activity_id, user_id)

    async def finish(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        return await self.host.finish(activity_id, user_id)

    async def discard(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        return await self.host.discard(activity_id, user_id)

    async def end_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        return await self.host.end_user(user_id)

    async def evict(self, activity_id: uuid.UUID) -> bool:
        return await self.host.evict(activity_id)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.settings.live_check_interval_s)
            try:
                await self.host.housekeeping()
            except Exception as exc:  # noqa: BLE001 - a dependency down: retried next round
                log.warning("workout housekeeping failed: %s", exc)
