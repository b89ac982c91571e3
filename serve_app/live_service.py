"""Live workout use cases on the replica side: thin calls to the owning WorkoutShard, and share links."""
from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from typing import Any

import numpy as np
import ray

from domain.track import Track
from serve_app.errors import RETRY_AFTER_S, ApiError
from serve_app.resources import Resources
from serve_app.schemas.live import LiveStart, SampleBatch
from storage import live as live_repo
from storage.redis_store import REDIS_ERRORS
from actors.workout_shard import metrics_key

SHARE_PREFIX = "slt_"
LIVE_NS = uuid.UUID("0b8c5a3e-7f0a-4b59-8d7e-2c1f9e6a4b10")


def share_token_hash(token: str) -> bytes:
    """How share tokens are stored."""
    import hashlib

    return hashlib.sha256(token.encode()).digest()


def batch_track(batch: SampleBatch, start_time: dt.datetime | None = None) -> tuple[Track, bool]:
    """Columnar batch; returns (track, absolute) where absolute means `t` holds epoch seconds."""
    kinds = {isinstance(p.time, dt.datetime) for p in batch.points}
    if len(kinds) > 1:
        raise ApiError(422, "invalid request: points.time",
                       details=[{"field": "points.time", "message": "mix of offsets and timestamps", "type": "value_error"}])
    absolute = kinds == {True}
    t = np.array([p.time.timestamp() if absolute else p.time for p in batch.points], dtype=float)
    if not absolute and (t < 0).any():
        bad = int(np.flatnonzero(t < 0)[0])
        raise ApiError(422, "invalid request: points.time",
                       details=[{"field": f"points.{bad}.time", "message": "before the workout start", "type": "value_error"}])
    cols = {"lat": "lat", "lng": "lng", "alt": "altitude", "hr": "heart_rate", "cadence": "cadence", "power": "power",
            "speed": "speed"}
    track = Track.from_arrays(t, **{k: np.array([getattr(p, a) for p in batch.points], dtype=float) for k, a in cols.items()})
    order = np.argsort(track.t, kind="stable")
    return track.take(order), absolute


async def call_shard(res: Resources, activity_id: uuid.UUID, method: str, *args: Any) -> Any:
    """Invoke a shard method and turn its result dict (or a dead shard) into a body or an ApiError."""
    shard = res.workout_shard(activity_id)
    try:
        result = await getattr(shard, method).remote(activity_id, *args)
    except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
        raise ApiError(503, "live workout service is restarting, retry", code="service_unavailable",
                       headers={"Retry-After": "1"}) from exc
    if result["status"] >= 400:
        headers = {"Retry-After": str(RETRY_AFTER_S)} if result["status"] == 503 else None
        raise ApiError(result["status"], result["error"], details=result.get("details"), headers=headers)
    return result["body"]


class LiveService:
    """Start, feed, follow and end live workouts."""

    def __init__(self, res: Resources) -> None:
        self.res = res

    async def start(self, user_id: uuid.UUID, body: LiveStart) -> tuple[uuid.UUID, bool]:
        """Create the live activity (idempotent on client_id)."""
        start = body.start_time or dt.datetime.now(dt.timezone.utc)
        activity_id = uuid.uuid5(LIVE_NS, f"{user_id}:{body.client_id}") if body.client_id else uuid.uuid4()
        async with self.res.pg.connection() as conn:
            if await live_repo.create_live(conn, activity_id, user_id, body.type, start, body.client_id):
                return activity_id, True
            cur = await conn.execute("SELECT activity_id, request_hash FROM activities WHERE user_id = %s AND client_id = %s",
                                     (user_id, body.client_id))
            row = await cur.fetchone()
        if row["request_hash"] != "live":
            raise ApiError(409, "this client_id was already used for an uploaded activity")
        return row["activity_id"], False

    async def samples(self, user_id: uuid.UUID, activity_id: uuid.UUID, batch: SampleBatch) -> dict[str, Any]:
        """Hand a batch to the owning shard; it answers once the batch is in Cassandra."""
        track, absolute = batch_track(batch)
        return await call_shard(self.res, activity_id, "ingest", user_id, batch.seq, track, absolute)

    async def metrics(self, owner_id: uuid.UUID, activity_id: uuid.UUID) -> dict[str, Any]:
        """Latest metrics: from Redis when there, else from the shard (which rebuilds the session if needed)."""
        try:
            cached = await self.res.redis.get(metrics_key(owner_id, activity_id))
            if cached is not None:
                body = json.loads(cached)
                body.pop("type", None)
                return body
        except REDIS_ERRORS:
            pass
        return await call_shard(self.res, activity_id, "metrics", owner_id)

    async def share(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> tuple[uuid.UUID, str]:
        """A new read-only share token for a live workout of the user's."""
        token = SHARE_PREFIX + secrets.token_urlsafe(24)
        async with self.res.pg.connection() as conn:
            live = await live_repo.get_live(conn, activity_id)
            if live is None or live["user_id"] != user_id:
                raise ApiError(404, "live workout not found")
            row = await live_repo.create_share(conn, activity_id, user_id, share_token_hash(token))
        return row["share_id"], token

    async def revoke_share(self, user_id: uuid.UUID, activity_id: uuid.UUID, share_id: uuid.UUID) -> None:
        """Revoke one share link of the user's workout."""
        async with self.res.pg.connection() as conn:
            cur = await conn.execute("SELECT 1 FROM activities WHERE activity_id = %s AND user_id = %s", (activity_id, user_id))
            if await cur.fetchone() is None or not await live_repo.revoke_share(conn, activity_id, share_id):
                raise ApiError(404, "share link not found")

    async def follower_owner(self, activity_id: uuid.UUID, token: str) -> uuid.UUID:
        """The owner of the workout a share token opens; 404 if revoked, ended or for another workout."""
        async with self.res.pg.connection() as conn:
            target = await live_repo.share_target(conn, share_token_hash(token))
        if target is None or target["activity_id"] != activity_id:
            raise ApiError(404, "live workout not found")
        return target["user_id"]
