"""WorkoutShard: hosts the live WorkoutSessions whose id hashes to it.

Why an actor: a live workout is stateful (sequence numbers, running metrics, pauses) and is fed every few
seconds; keeping that state next to its writer avoids re-reading storage per batch. One Ray process per workout
would not scale to 100k workouts, so sessions are virtual actors: plain objects owned by one shard each, chosen by
a stable hash. A batch is acknowledged only after Cassandra has it; a restarted shard rebuilds a session from
Postgres and Cassandra on the next request, so an acknowledged sample is never lost.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import ray

from actors.workout_session import MAX_AHEAD, WorkoutSession, join_batches
from config.settings import Settings
from domain.naming import default_name
from domain.process import process_activity
from domain.track import Track
from services.activities import metric_changes
from storage import activities as repo
from storage import live as live_repo
from storage.cassandra import Cassandra
from storage.errors import StorageUnavailable
from storage.postgres import Postgres
from storage.purges import run_pending_purges
from storage.redis_store import REDIS_ERRORS, build_redis
from storage.samples import SampleStore, live_bucket

log = logging.getLogger("stride.workouts")


def live_channel(activity_id: uuid.UUID | str) -> str:
    """Redis pub/sub channel of a live workout's updates."""
    return f"live:{activity_id}"


def metrics_key(user_id: uuid.UUID | str, activity_id: uuid.UUID | str) -> str:
    """Redis key holding a live workout's latest metrics (under the user's prefix)."""
    return f"u:{user_id}:live:{activity_id}"


def _ok(body: Any, status: int = 200) -> dict:
    return {"status": status, "body": body}


def _err(status: int, message: str, **details: Any) -> dict:
    return {"status": status, "error": message, "details": details or None}


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=1000)
class WorkoutShard:
    """Owns a set of live sessions; all methods return {"status", "body"} or {"status", "error"} dicts."""

    def __init__(self, settings: Settings, index: int) -> None:
        self.settings = settings
        self.index = index
        self.pg = Postgres(settings)
        self.cas = Cassandra(settings)
        self.redis = build_redis(settings)
        self.samples = SampleStore(self.cas, settings.sample_bucket_seconds)
        self.sessions: dict[uuid.UUID, WorkoutSession] = {}
        self._loading: dict[uuid.UUID, asyncio.Future] = {}
        self._touched: set[uuid.UUID] = set()
        # housekeeping starts with the actor (also after a restart by Ray), not with the first call
        self._loop_task = asyncio.get_running_loop().create_task(self._housekeeping())

    async def ping(self) -> str:
        """Liveness."""
        return "ok"

    async def stats(self) -> dict:
        """What this shard holds (for tests and benchmarks)."""
        return {"index": self.index, "sessions": len(self.sessions)}

    # ------------------------------------------------------------------ session lookup

    async def _session(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> WorkoutSession | None:
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
                    pending.exception()  # mark retrieved
                    raise
                finally:
                    self._loading.pop(activity_id, None)
            else:
                session = await asyncio.shield(pending)
        if session is None or session.user_id != user_id:
            return None
        return session

    async def _load(self, activity_id: uuid.UUID) -> WorkoutSession | None:
        """Rebuild a session from Postgres (the live row, pauses) and Cassandra (every stored batch)."""
        async with self.pg.connection() as conn:
            row = await live_repo.get_live(conn, activity_id)
        if row is None:
            return None
        session = WorkoutSession(activity_id, row["user_id"], row["type"], row["start_time"], pauses=list(row["pauses"]))
        session.metrics.paused = bool(session.pauses) and session.pauses[-1]["type"] == "pause"
        batches = await self.samples.read_batches(activity_id)
        for seq in sorted(batches):
            session.accept(seq, batches[seq])
        self.sessions[activity_id] = session
        log.info("rebuilt session %s with %d batches (acked %d)", activity_id, len(batches), session.sequencer.acked)
        return session

    # ------------------------------------------------------------------ commands

    async def _with_session(self, activity_id: uuid.UUID, user_id: uuid.UUID,
                            action: Callable[[WorkoutSession], Awaitable[dict]]) -> dict:
        """Run `action` on the caller's open session under its lock: 404 if none, 503 if storage is down."""
        try:
            session = await self._session(activity_id, user_id)
            if session is None:
                return _err(404, "live workout not found")
            async with session.lock:
                if session.closed:  # finished or discarded while this call waited
                    return _err(404, "live workout not found")
                return await action(session)
        except StorageUnavailable as exc:
            return _err(503, f"{exc.service} unavailable", service=exc.service)

    async def ingest(self, activity_id: uuid.UUID, user_id: uuid.UUID, seq: int, track: Track,
                     absolute: bool = False) -> dict:
        """Store a batch durably, then acknowledge it; duplicates are acknowledged without storing again."""

        async def store(session: WorkoutSession) -> dict:
            batch = track.replace(t=track.t - session.start_time.timestamp()) if absolute else track
            if (batch.t < 0).any():
                return {"status": 422, "error": "invalid request: points.time",
                        "details": [{"field": "points.time", "message": "a point is before the workout start",
                                     "type": "value_error"}]}
            if session.sequencer.seen(seq):
                return _ok({**session.ack(), "duplicate": True})
            if seq > session.sequencer.acked + MAX_AHEAD:
                return _err(409, f"batch {seq} is too far ahead; resend the missing batches first", **session.ack())
            await self.samples.write_batch(activity_id, seq, batch)
            session.accept(seq, batch)
            self._touched.add(activity_id)
            view = self._view(session)
            await self._publish(session, view)
            return _ok({**session.ack(), "duplicate": False, "metrics": view})

        return await self._with_session(activity_id, user_id, store)

    async def set_paused(self, activity_id: uuid.UUID, user_id: uuid.UUID, paused: bool) -> dict:
        """Manual pause or resume at the latest sample time."""

        async def toggle(session: WorkoutSession) -> dict:
            if session.set_paused(paused, session.metrics.last_t or 0.0):
                async with self.pg.connection() as conn:
                    await live_repo.save_pauses(conn, activity_id, session.pauses)
            view = self._view(session)
            await self._publish(session, view)
            return _ok(view)

        return await self._with_session(activity_id, user_id, toggle)

    async def metrics(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict:
        """Current live metrics (rebuilding the session if this shard restarted)."""

        async def view(session: WorkoutSession) -> dict:
            return _ok(self._view(session))

        return await self._with_session(activity_id, user_id, view)

    async def finish(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict:
        """Process every stored sample with the upload code path and save the activity."""

        async def close(session: WorkoutSession) -> dict:
            await self._finalize(session)
            await self._close(session, "finished")
            return _ok({"activity_id": str(activity_id)})

        return await self._with_session(activity_id, user_id, close)

    async def discard(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict:
        """Throw a live workout away: its row, its samples, its share links."""

        async def drop(session: WorkoutSession) -> dict:
            buckets = list(range(live_bucket(max(session.sequencer.highest, 1)) + 1))
            async with self.pg.connection() as conn:
                await conn.execute("UPDATE activities SET sample_buckets = %s WHERE activity_id = %s",
                                   (buckets, activity_id))
                await repo.delete_activity(conn, activity_id)
            await self._close(session, "discarded")
            try:
                await run_pending_purges(self.pg, self.cas)
            except StorageUnavailable:
                pass  # the janitor finishes it
            return _ok({"activity_id": str(activity_id)})

        return await self._with_session(activity_id, user_id, drop)

    async def _close(self, session: WorkoutSession, how: str) -> None:
        session.closed = True
        self.sessions.pop(session.activity_id, None)
        await self._announce_end(session, how)

    async def evict(self, activity_id: uuid.UUID) -> bool:
        """Forget a session's memory (it is rebuilt from storage on next use)."""
        return self.sessions.pop(activity_id, None) is not None

    # ------------------------------------------------------------------ internals

    async def _finalize(self, session: WorkoutSession) -> None:
        batches = await self.samples.read_batches(session.activity_id)
        track = join_batches(batches, session.pauses)
        async with self.pg.connection() as conn:
            profile = await repo.athlete_profile(conn, session.user_id)
            processed = process_activity(session.sport, track, profile=profile, start_year=session.start_time.year,
                                         duration_s=None if len(track) else 0.0)
            buckets = sorted({live_bucket(s) for s in batches})
            changes = {**metric_changes(processed), "status": "saved", "sample_buckets": buckets,
                       "name": default_name(session.sport, session.start_time)}
            await repo.update_activity(conn, session.activity_id, changes)
            await live_repo.end_live(conn, session.activity_id)
            row = {"activity_id": session.activity_id, "user_id": session.user_id, "type": session.sport,
                   "start_time": session.start_time, **changes}
            await repo.add_event(conn, "activity_created", session.user_id, session.activity_id, repo.event_payload(row))

    def _view(self, session: WorkoutSession) -> dict:
        return {"activity_id": str(session.activity_id), "status": "live", "sport": session.sport,
                **session.metrics.view(), "acked_seq": session.sequencer.acked}

    async def _publish(self, session: WorkoutSession, view: dict) -> None:
        """Latest metrics to Redis (a key for GET, a message for WebSocket followers); best effort."""
        message = json.dumps({"type": "metrics", **view})
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(metrics_key(session.user_id, session.activity_id), message, ex=3600)
                pipe.publish(live_channel(session.activity_id), message)
                await pipe.execute()
        except REDIS_ERRORS as exc:
            log.debug("live publish skipped: %s", exc)

    async def _announce_end(self, session: WorkoutSession, how: str) -> None:
        try:
            await self.redis.delete(metrics_key(session.user_id, session.activity_id))
            await self.redis.publish(live_channel(session.activity_id),
                                     json.dumps({"type": how, "activity_id": str(session.activity_id)}))
        except REDIS_ERRORS:
            pass

    async def _housekeeping(self) -> None:
        """Every few seconds: record activity in Postgres (throttled) and finish sessions idle too long."""
        while True:
            await asyncio.sleep(self.settings.live_check_interval_s)
            try:
                await self._flush_touched()
                await self._finish_idle()
            except Exception as exc:  # noqa: BLE001 - retried next round
                log.warning("workout housekeeping failed: %s", exc)

    async def _flush_touched(self) -> None:
        if self._touched:
            touched, self._touched = list(self._touched), set()
            async with self.pg.connection() as conn:
                await live_repo.touch(conn, touched)

    async def _finish_idle(self) -> None:
        limit = time.monotonic() - self.settings.live_idle_finish_s
        for activity_id, session in list(self.sessions.items()):
            if session.last_seen < limit:
                log.info("finishing idle session %s", activity_id)
                await self.finish(activity_id, session.user_id)
