"""The activity use cases behind the HTTP routes: upload, read, stream, edit, delete.

Write order for an upload: samples to Cassandra first (under a deterministic id and a pending marker), then the
summary, its sets and the `activity_created` outbox event in one Postgres transaction. A failure before the commit
leaves no visible activity; a retry with the same client id lands on the same rows; the reconciler purges samples
whose summary never committed.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import uuid
from typing import Any

import numpy as np

from domain.laps import DeviceLap
from domain.naming import default_name
from domain.process import ProcessedActivity, process_activity
from domain.profile import AthleteProfile
from domain.strength import StrengthSet
from domain.track import Track
from serve_app.errors import ApiError
from serve_app.resources import Resources
from serve_app.schemas.activities import ActivityCreate, ActivityUpdate
from storage import activities as repo
from storage.errors import StorageUnavailable
from storage.samples import SampleStore

log = logging.getLogger("stride.activities")

ACTIVITY_NS = uuid.UUID("6f1d3c1e-2b7a-4d0e-9a51-3c8e7f0b9d42")
_OFFLOAD_POINTS = 5_000  # process bigger tracks in a worker thread so the event loop keeps serving


def request_hash(body: ActivityCreate) -> str:
    """Fingerprint of what a client sent (its id excluded), to tell a retry from a different request."""
    return hashlib.sha256(body.model_dump_json(exclude={"client_id"}).encode()).hexdigest()


def deterministic_id(user_id: uuid.UUID, client_id: str, fingerprint: str) -> uuid.UUID:
    """The activity id a client id and body map to: retries write the same sample rows, other bodies never do."""
    return uuid.uuid5(ACTIVITY_NS, f"{user_id}:{client_id}:{fingerprint}")


def track_from_body(body: ActivityCreate) -> Track:
    """Columnar track from the uploaded points; absolute timestamps become seconds from start_time."""
    points = body.data_points
    if not points:
        return Track.empty()
    start = body.start_time
    t = np.array([p.time if not isinstance(p.time, dt.datetime) else (p.time - start).total_seconds() for p in points])
    bad = np.flatnonzero(t < 0)
    if bad.size:
        raise ApiError(422, "invalid request: data_points.time",
                       details=[{"field": f"data_points.{int(bad[0])}.time", "message": "point is before start_time",
                                 "type": "value_error"}])
    cols = {name: [getattr(p, attr) for p in points] for name, attr in
            (("lat", "lat"), ("lng", "lng"), ("alt", "altitude"), ("hr", "heart_rate"),
             ("cadence", "cadence"), ("power", "power"), ("speed", "speed"))}
    return Track.from_arrays(t, **{k: np.array(v, dtype=float) for k, v in cols.items()})


async def _process(sport: str, track: Track, profile: AthleteProfile, body: ActivityCreate) -> ProcessedActivity:
    kwargs = dict(profile=profile, start_year=body.start_time.year,
                  device_laps=[DeviceLap(l.start, l.end) for l in body.laps],
                  sets=[StrengthSet(**s.model_dump()) for s in body.sets],
                  duration_s=body.duration, distance_m=body.distance, calories=body.calories)
    if len(track) > _OFFLOAD_POINTS:
        return await asyncio.to_thread(process_activity, sport, track, **kwargs)
    return process_activity(sport, track, **kwargs)


class ActivityService:
    """Use cases over Postgres (summaries) and Cassandra (samples)."""

    def __init__(self, res: Resources) -> None:
        self.res = res
        self.samples = SampleStore(res.cassandra, res.settings.sample_bucket_seconds)

    async def create(self, user_id: uuid.UUID, body: ActivityCreate, idempotency_key: str | None) -> tuple[uuid.UUID, bool]:
        """Store a new activity; returns (activity_id, created). A retry returns the first id with created=False."""
        client_id = body.client_id or idempotency_key
        fingerprint = request_hash(body)
        async with self.res.pg.connection() as conn:
            existing = await repo.get_by_client_id(conn, user_id, client_id) if client_id else None
            profile = await repo.athlete_profile(conn, user_id)
        if existing is not None:
            return self._replay(existing, fingerprint)
        if len(body.data_points) > self.res.settings.max_points:
            raise ApiError(413, f"too many data points ({len(body.data_points)} > {self.res.settings.max_points})")
        track = track_from_body(body)
        processed = await _process(body.type, track, profile, body)
        activity_id = deterministic_id(user_id, client_id, fingerprint) if client_id else uuid.uuid4()
        buckets = await self._write_samples(activity_id, user_id, processed.track)
        row = self._summary_row(activity_id, user_id, client_id, fingerprint, body, processed, buckets)
        async with self.res.pg.connection() as conn:
            if not await repo.insert_activity(conn, row):
                existing = await repo.get_by_client_id(conn, user_id, client_id)  # a concurrent twin won
                return self._replay(existing, fingerprint)
            await repo.insert_sets(conn, activity_id, [s.model_dump() for s in body.sets])
            await repo.add_event(conn, "activity_created", user_id, activity_id, repo.event_payload(row))
        await self._clear_pending(activity_id, buckets)
        return activity_id, True

    def _replay(self, existing: dict[str, Any], fingerprint: str) -> tuple[uuid.UUID, bool]:
        if existing["request_hash"] != fingerprint:
            raise ApiError(409, "this client_id / Idempotency-Key was already used for a different activity",
                           details={"activity_id": str(existing["activity_id"])})
        return existing["activity_id"], False

    async def _write_samples(self, activity_id: uuid.UUID, user_id: uuid.UUID, track: Track) -> list[int]:
        if len(track) == 0:
            return []
        await self.samples.mark_pending(activity_id, user_id, self.samples.buckets_of(track))
        return await self.samples.write_track(activity_id, track)

    async def _clear_pending(self, activity_id: uuid.UUID, buckets: list[int]) -> None:
        if not buckets:
            return
        try:
            await self.samples.clear_pending(activity_id)
        except StorageUnavailable:
            log.warning("pending marker for %s left for the reconciler", activity_id)

    @staticmethod
    def _summary_row(activity_id: uuid.UUID, user_id: uuid.UUID, client_id: str | None, fingerprint: str,
                     body: ActivityCreate, processed: ProcessedActivity, buckets: list[int]) -> dict[str, Any]:
        return {
            "activity_id": activity_id, "user_id": user_id, "client_id": client_id, "request_hash": fingerprint,
            "type": body.type, "name": body.name or default_name(body.type, body.start_time), "notes": body.notes,
            "visibility": body.visibility, "start_time": body.start_time, "sample_buckets": buckets,
            **repo.metric_columns(processed),
        }

    async def get(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> dict[str, Any]:
        """The full activity, or 404 (also for someone else's)."""
        async with self.res.pg.connection() as conn:
            row = await repo.get_activity(conn, activity_id, user_id)
        if row is None:
            raise ApiError(404, "activity not found")
        return row

    async def streams(self, user_id: uuid.UUID, activity_id: uuid.UUID, keys: list[str], resolution: str) -> dict[str, Any]:
        """Strava-style streams of the stored points."""
        from domain.streams import build_streams

        row = await self.get(user_id, activity_id)
        track = await self.samples.read_track(activity_id, list(row["sample_buckets"]))
        processed = process_activity(row["type"], track) if len(track) else None
        data = build_streams(processed if processed is not None else track, keys=keys, resolution=resolution)
        size = len(track)
        return {k: {"data": v, "original_size": size, "resolution": resolution,
                    "series_type": "distance" if row["type"] in ("running", "cycling", "walking", "hiking") else "time"}
                for k, v in data.items()}

    async def update(self, user_id: uuid.UUID, activity_id: uuid.UUID, changes: ActivityUpdate,
                     if_match: int | None) -> dict[str, Any]:
        """Edit name/type/notes/visibility under optimistic concurrency; a type change re-measures the samples."""
        fields = changes.model_dump(exclude_unset=True)
        async with self.res.pg.connection() as conn:
            row = await repo.get_activity(conn, activity_id, user_id, for_update=True)
            if row is None:
                raise ApiError(404, "activity not found")
            if if_match is not None and if_match != row["version"]:
                raise ApiError(412, f"activity is at version {row['version']}, not {if_match}",
                               details={"version": row["version"]})
            if "type" in fields and fields["type"] != row["type"]:
                fields.update(await self._remeasure(row, fields["type"], conn))
            await repo.update_activity(conn, activity_id, fields)
            await repo.add_event(conn, "activity_updated", user_id, activity_id,
                                 {"activity_id": str(activity_id), "changes": sorted(fields)})
        return await self.get(user_id, activity_id)

    async def _remeasure(self, row: dict[str, Any], sport: str, conn: Any) -> dict[str, Any]:
        track = await self.samples.read_track(row["activity_id"], list(row["sample_buckets"]))
        profile = await repo.athlete_profile(conn, row["user_id"])
        sets = [StrengthSet(**s) for s in row["sets"]]
        processed = process_activity(sport, track, profile=profile, start_year=row["start_time"].year, sets=sets,
                                     duration_s=row["duration"], distance_m=row["distance"])
        cols = repo.metric_columns(processed)
        if len(track) == 0:  # a manual entry keeps what the athlete typed
            cols = {k: v for k, v in cols.items() if k not in ("duration", "moving_time", "distance")}
        return cols

    async def delete(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> None:
        """Delete the summary now and the samples right after (or by the janitor if Cassandra is down)."""
        from storage.purges import run_pending_purges

        async with self.res.pg.connection() as conn:
            row = await repo.get_activity(conn, activity_id, user_id, for_update=True)
            if row is None:
                raise ApiError(404, "activity not found")
            if row["status"] == "live":
                live = True
            else:
                live = False
                await repo.delete_activity(conn, activity_id)
                await repo.add_event(conn, "activity_deleted", user_id, activity_id,
                                     {"activity_id": str(activity_id), "type": row["type"],
                                      "start_time": row["start_time"].isoformat()})
        if live:  # the owning shard drops the session, its samples and its share links
            from serve_app.live_service import call_shard

            await call_shard(self.res, activity_id, "discard", user_id)
            return
        try:
            await run_pending_purges(self.res.pg, self.res.cassandra)
        except StorageUnavailable:
            log.warning("sample purge of %s deferred to the janitor", activity_id)


