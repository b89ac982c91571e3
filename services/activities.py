"""Activity use cases: upload, read, streams, list, edit, delete.

Write order for an upload: samples to Cassandra first (under a deterministic id and a pending marker), then the
summary, its sets and the `activity_created` event in one unit of work. A failure before the commit leaves no
visible activity; a retry with the same client id lands on the same rows; the reconciler purges samples whose
summary never committed.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from domain.errors import Conflict, Invalid, NotFound, PreconditionFailed, TooLarge, Unavailable
from domain.naming import default_name
from domain.process import ProcessedActivity, process_activity
from domain.profile import AthleteProfile
from domain.splits import DeviceLap
from domain.streams import build_streams
from domain.strength import StrengthSet
from domain.track import Track
from services.compute import offload as default_offload
from services.documents import Document
from services.ports import Offload, Purges, SampleStore, StatsCache, UnitOfWorkFactory, WorkoutShards

log = logging.getLogger("stride.activities")

ACTIVITY_NS = uuid.UUID("6f1d3c1e-2b7a-4d0e-9a51-3c8e7f0b9d42")
DISTANCE_SPORTS = frozenset({"running", "cycling", "walking", "hiking"})
EDITABLE = ("name", "type", "notes", "visibility")
INTERNAL_FIELDS = ("sample_buckets", "request_hash")  # stored with an activity, never shown


@dataclass(frozen=True)
class Limits:
    """What one activity may hold: points, and how far after its start a point may lie."""

    max_points: int = 100_000
    max_span_s: float = 30 * 86400.0


@dataclass(frozen=True)
class NewActivity:
    """An upload, already decoded from its wire format: `track.t` is seconds from `start_time`."""

    sport: str
    start_time: dt.datetime
    fingerprint: str  # sha256 of what the client sent (tells a retry from a different request)
    track: Track = field(default_factory=Track.empty)
    client_id: str | None = None
    name: str | None = None
    notes: str | None = None
    visibility: str = "private"
    duration: float | None = None
    distance: float | None = None
    calories: float | None = None
    laps: Sequence[DeviceLap] = ()
    sets: Sequence[StrengthSet] = ()


def deterministic_id(user_id: uuid.UUID, client_id: str, fingerprint: str) -> uuid.UUID:
    """The activity id a client id and body map to: retries write the same sample rows, other bodies never do."""
    return uuid.uuid5(ACTIVITY_NS, f"{user_id}:{client_id}:{fingerprint}")


def check_track(track: Track, limits: Limits, field_name: str = "data_points") -> None:
    """Points must lie within [0, max_span_s] of the start, and there must not be too many of them."""
    if len(track) > limits.max_points:
        raise TooLarge(
            f"too many points ({len(track)} > {limits.max_points})",
            details={"field": field_name, "max": limits.max_points},
        )
    check_times(track, limits.max_span_s, field_name)


def check_times(track: Track, max_span_s: float, field_name: str) -> None:
    """Every point lies within [0, max_span_s] seconds of the start (and is finite), else Invalid naming it: the one
    time bound of uploads and live batches (issue 9 item 7)."""
    if len(track) == 0:
        return
    bad = np.flatnonzero(~np.isfinite(track.t) | (track.t < 0) | (track.t > max_span_s))
    if bad.size:
        k = int(bad[0])
        message = (
            "point is before the start"
            if track.t[k] < 0
            else f"point is more than {max_span_s / 86400:g} days after the start"
        )
        raise Invalid.field(f"{field_name}.{k}.time", message)


def _process(
    sport: str,
    track: Track,
    profile: AthleteProfile,
    start_year: int,
    laps: Sequence[DeviceLap] = (),
    sets: Sequence[StrengthSet] = (),
    duration: float | None = None,
    distance: float | None = None,
    calories: float | None = None,
) -> ProcessedActivity:
    return process_activity(
        sport,
        track,
        profile=profile,
        start_year=start_year,
        device_laps=laps,
        sets=sets,
        duration_s=duration,
        distance_m=distance,
        calories=calories,
    )


def metric_changes(processed: ProcessedActivity) -> dict[str, Any]:
    """The summary columns a processed activity fills."""
    p = processed
    return {
        "duration": p.elapsed_s,
        "moving_time": p.moving_s,
        "distance": p.distance_m,
        "elevation_gain": p.elevation_gain_m,
        "elevation_loss": p.elevation_loss_m,
        "calories": p.calories,
        "average_speed": p.avg_speed_mps,
        "max_speed": p.max_speed_mps,
        "average_pace": p.avg_pace_s_per_km,
        "heart_rate_avg": p.hr_avg,
        "heart_rate_max": p.hr_max,
        "cadence_avg": p.cadence_avg,
        "power_avg": p.power_avg,
        "power_max": p.power_max,
        "route_polyline": p.route_polyline,
        "summary_polyline": p.summary_polyline,
        "bbox": p.bbox,
        "points_count": p.points_count,
        "laps": p.laps,
        "splits": p.splits,
        "best_efforts": p.best_efforts,
        "hr_zones": p.hr_zones,
        "strength": p.strength,
    }


def _streams(sport: str, track: Track, keys: Sequence[str], resolution: str) -> dict[str, list[Any]]:
    processed = process_activity(sport, track) if len(track) else None
    return build_streams(processed if processed is not None else track, keys=keys, resolution=resolution)


class ActivityService:
    """Upload, read, stream, list, edit and delete activities."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        samples: SampleStore,
        purges: Purges,
        workouts: WorkoutShards,
        limits: Limits = Limits(),
        offload: Offload = default_offload,
        cache: StatsCache | None = None,
    ) -> None:
        self.uow = uow
        self.samples = samples
        self.purges = purges
        self.workouts = workouts
        self.limits = limits
        self.offload = offload
        self.cache = cache

    # ------------------------------------------------------------------ upload

    async def upload(self, user_id: uuid.UUID, new: NewActivity) -> tuple[uuid.UUID, bool]:
        """Store a new activity; returns (activity_id, created). A retry returns the first id with created=False."""
        check_track(new.track, self.limits)
        async with self.uow() as uow:
            existing = await uow.activities.by_client_id(user_id, new.client_id) if new.client_id else None
            profile = await uow.activities.athlete_profile(user_id)
        if existing is not None:
            return self._replay(existing, new.fingerprint)
        processed = await self.offload(
            _process,
            new.sport,
            new.track,
            profile,
            new.start_time.year,
            new.laps,
            new.sets,
            new.duration,
            new.distance,
            new.calories,
        )
        activity_id = deterministic_id(user_id, new.client_id, new.fingerprint) if new.client_id else uuid.uuid4()
        buckets = await self._write_samples(activity_id, user_id, processed.track)
        row = {
            "activity_id": activity_id,
            "user_id": user_id,
            "client_id": new.client_id,
            "request_hash": new.fingerprint,
            "type": new.sport,
            "name": new.name or default_name(new.sport, new.start_time),
            "notes": new.notes,
            "visibility": new.visibility,
            "start_time": new.start_time,
            "sample_buckets": buckets,
            **metric_changes(processed),
        }
        async with self.uow() as uow:
            if not await uow.activities.insert(row):
                twin = await uow.activities.by_client_id(user_id, new.client_id) if new.client_id else None
                if twin is None:  # the same random id twice cannot happen; a twin without a client id neither
                    raise Conflict("activity already exists")
                return self._replay(twin, new.fingerprint)
            await uow.activities.insert_sets(activity_id, [vars(s) for s in new.sets])
            uow.emit("activity_created", user_id, activity_id)
            await uow.commit()
        await self._clear_pending(activity_id, buckets)
        return activity_id, True

    @staticmethod
    def _replay(existing: dict[str, Any], fingerprint: str) -> tuple[uuid.UUID, bool]:
        if existing["request_hash"] != fingerprint:
            raise Conflict(
                "this client_id / Idempotency-Key was already used for a different activity",
                details={"activity_id": str(existing["activity_id"])},
            )
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
        except Unavailable:
            log.warning("pending marker for %s left for the reconciler", activity_id)

    # ------------------------------------------------------------------ reads

    async def get(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> dict[str, Any]:
        """The full activity (summary, laps, splits, efforts, zones, sets, insights); NotFound for someone else's."""
        async with self.uow(read_only=True) as uow:
            row = await uow.activities.get(activity_id, user_id)
        if row is None:
            raise NotFound("activity")
        return row

    async def document(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> Document:
        """The full activity as ready JSON bytes tagged with its version; NotFound for someone else's.

        A finished activity's document is cached (the user's read cache, services.ports.StatsCache: one round trip
        on a hit, filed under the user's cache version). Every change of a finished activity bumps that version
        after its commit: an edit or a deletion here, new insights in the stats actor, erasure drops it all. A live
        workout's document changes with every batch and is never cached. The cache being down costs only speed."""
        key = str(activity_id)
        version: str | None = None
        if self.cache is not None:
            try:
                version, raw = await self.cache.get(user_id, "activity", key)
                if raw is not None:
                    return Document.unpack(raw)
            except Unavailable as exc:
                log.debug("activity cache skipped: %s", exc)
        row = await self.get(user_id, activity_id)
        for name in INTERNAL_FIELDS:
            row.pop(name, None)
        doc = Document.versioned(row, row["version"])
        if self.cache is not None and version is not None and row["status"] == "saved":
            try:
                await self.cache.put(user_id, "activity", key, version, doc.pack())
            except Unavailable as exc:
                log.debug("activity cache not filled: %s", exc)
        return doc

    async def _changed(self, user_id: uuid.UUID) -> None:
        """After a commit that changed one of the user's finished activities: cached documents are stale."""
        if self.cache is None:
            return
        try:
            await self.cache.invalidate(user_id)
        except Unavailable as exc:
            log.warning("read cache of %s not invalidated: %s (entries expire by TTL)", user_id, exc)

    async def streams(
        self, user_id: uuid.UUID, activity_id: uuid.UUID, keys: Sequence[str], resolution: str
    ) -> dict[str, Any]:
        """Strava-style per-point streams of the stored samples (processed off the event loop)."""
        row = await self.get(user_id, activity_id)
        track = await self.samples.read_track(activity_id, list(row["sample_buckets"]))
        data = await self.offload(_streams, row["type"], track, list(keys), resolution)
        series_type = "distance" if row["type"] in DISTANCE_SPORTS else "time"
        return {
            k: {"data": v, "original_size": len(track), "resolution": resolution, "series_type": series_type}
            for k, v in data.items()
        }

    async def page(
        self,
        user_id: uuid.UUID,
        *,
        limit: int,
        offset: int,
        before: dt.datetime | None = None,
        after: dt.datetime | None = None,
        sport: str | None = None,
    ) -> Document:
        """A page of summaries, newest first (`items`, `limit`, `offset`, and `next_offset`: None at the end), as
        ready JSON bytes tagged with a hash of their content: serialised once, no per-item model validation."""
        if before is not None and after is not None and after >= before:
            raise Invalid.field("after", "must be before `before`")
        async with self.uow(read_only=True) as uow:
            rows = await uow.activities.list(
                user_id, limit=limit + 1, offset=offset, before=before, after=after, sport=sport
            )
        next_offset = offset + limit if len(rows) > limit else None
        return Document.hashed({"items": rows[:limit], "limit": limit, "offset": offset, "next_offset": next_offset})

    # ------------------------------------------------------------------ edits

    async def update(
        self, user_id: uuid.UUID, activity_id: uuid.UUID, changes: dict[str, Any], if_match: int | None
    ) -> dict[str, Any]:
        """Edit name/type/notes/visibility under optimistic concurrency; a type change re-measures the samples."""
        fields = {k: v for k, v in changes.items() if k in EDITABLE}
        async with self.uow() as uow:
            row = await uow.activities.get(activity_id, user_id, for_update=True)
            if row is None:
                raise NotFound("activity")
            if if_match is not None and if_match != row["version"]:
                raise PreconditionFailed(
                    f"activity is at version {row['version']}, not {if_match}", details={"version": row["version"]}
                )
            if row["status"] != "saved":
                raise Conflict("a live workout can be edited once it is finished")
            if "type" in fields and fields["type"] != row["type"]:
                profile = await uow.activities.athlete_profile(user_id)
                fields.update(await self._remeasure(row, fields["type"], profile))
            await uow.activities.update(activity_id, fields)
            uow.emit("activity_updated", user_id, activity_id)
            await uow.commit()
        await self._changed(user_id)
        return await self.get(user_id, activity_id)

    async def _remeasure(self, row: dict[str, Any], sport: str, profile: AthleteProfile) -> dict[str, Any]:
        track = await self.samples.read_track(row["activity_id"], list(row["sample_buckets"]))
        sets = [StrengthSet(**s) for s in row["sets"]]
        processed = await self.offload(
            _process, sport, track, profile, row["start_time"].year, (), sets, row["duration"], row["distance"]
        )
        cols = metric_changes(processed)
        if len(track) == 0:  # a manual entry keeps what the athlete typed
            cols = {k: v for k, v in cols.items() if k not in ("duration", "moving_time", "distance")}
        return cols

    async def delete(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> None:
        """Delete the summary now and the samples right after (or by the janitor if Cassandra is down);
        a live workout is discarded by its shard."""
        async with self.uow() as uow:
            status = await uow.activities.status(activity_id, user_id)
            if status is None:
                raise NotFound("activity")
            if status == "saved":
                await uow.activities.delete(activity_id)
                uow.emit("activity_deleted", user_id, activity_id)
                await uow.commit()
                await self._changed(user_id)
        if status == "live":
            await self.workouts.discard(activity_id, user_id)
            return
        try:
            await self.purges.run_pending()
        except Unavailable:
            log.warning("sample purge of %s deferred to the janitor", activity_id)
