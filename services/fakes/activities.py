"""Fakes for the activity ports: the summary repository, the sample store, the purge queue, the workout shards."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from domain.errors import NotFound, Unavailable
from domain.profile import AthleteProfile
from domain.track import CHANNELS, Track


class FakeActivities:
    """services.ports.ActivityRepository over the unit of work's private tables."""

    def __init__(self, tables: dict[str, Any]) -> None:
        self.t = tables

    async def by_client_id(self, user_id: uuid.UUID, client_id: str) -> dict[str, Any] | None:
        for row in self.t["activities"].values():
            if row["user_id"] == user_id and row.get("client_id") == client_id:
                return {"activity_id": row["activity_id"], "request_hash": row.get("request_hash")}
        return None

    async def insert(self, row: dict[str, Any]) -> bool:
        if row["activity_id"] in self.t["activities"]:
            return False
        if row.get("client_id") and await self.by_client_id(row["user_id"], row["client_id"]):
            return False
        now = dt.datetime.now(dt.UTC)
        self.t["activities"][row["activity_id"]] = {
            "status": "saved",
            "version": 1,
            "created_at": now,
            "updated_at": now,
            **row,
        }
        return True

    async def insert_sets(self, activity_id: uuid.UUID, sets: Sequence[dict[str, Any]]) -> None:
        self.t["strength_sets"][activity_id] = [dict(s) for s in sets]

    async def get(
        self, activity_id: uuid.UUID, user_id: uuid.UUID, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        row = self.t["activities"].get(activity_id)
        if row is None or row["user_id"] != user_id:
            return None
        return {
            **row,
            "sets": list(self.t["strength_sets"].get(activity_id, [])),
            "insights": list(self.t["insights"].get(activity_id, [])),
        }

    async def status(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
        row = self.t["activities"].get(activity_id)
        return row["status"] if row is not None and row["user_id"] == user_id else None

    async def list(
        self,
        user_id: uuid.UUID,
        *,
        limit: int,
        offset: int,
        before: dt.datetime | None = None,
        after: dt.datetime | None = None,
        sport: str | None = None,
    ) -> list[dict[str, Any]]:
        rows = [
            r
            for r in self.t["activities"].values()
            if r["user_id"] == user_id
            and r["status"] == "saved"
            and (before is None or r["start_time"] < before)
            and (after is None or r["start_time"] > after)
            and (sport is None or r["type"] == sport)
        ]
        rows.sort(key=lambda r: (r["start_time"], str(r["activity_id"])), reverse=True)
        return rows[offset : offset + limit]

    async def update(self, activity_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any]:
        row = self.t["activities"][activity_id]
        row.update(changes)
        row["version"] += 1
        row["updated_at"] = dt.datetime.now(dt.UTC)
        return {"version": row["version"], "updated_at": row["updated_at"]}

    async def delete(self, activity_id: uuid.UUID, buckets: Sequence[int] | None = None) -> None:
        row = self.t["activities"].pop(activity_id, None)
        queued = list(buckets) if buckets is not None else list(row.get("sample_buckets") or []) if row else []
        if queued:
            self.t["sample_purges"][activity_id] = queued
        self.t["strength_sets"].pop(activity_id, None)

    async def athlete_profile(self, user_id: uuid.UUID) -> AthleteProfile:
        profile = self.t["profiles"].get(user_id)
        return profile if isinstance(profile, AthleteProfile) else AthleteProfile()


class FakeSamples:
    """services.ports.SampleStore in memory: {activity_id: {bucket: {chunk: Track}}} plus pending markers.
    `down = True` makes every call raise Unavailable('cassandra')."""

    def __init__(self, bucket_seconds: int = 3600) -> None:
        self.bucket_seconds = bucket_seconds
        self.rows: dict[uuid.UUID, dict[int, dict[int, Track]]] = {}
        self.pending: dict[uuid.UUID, list[int]] = {}
        self.writes = 0
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise Unavailable("cassandra", "fake outage")

    def buckets_of(self, track: Track) -> list[int]:
        return sorted({int(b) for b in np.unique(track.t // self.bucket_seconds)}) if len(track) else []

    async def mark_pending(self, activity_id: uuid.UUID, user_id: uuid.UUID, buckets: Sequence[int]) -> None:
        self._check()
        self.pending[activity_id] = list(buckets)

    async def clear_pending(self, activity_id: uuid.UUID) -> None:
        self._check()
        self.pending.pop(activity_id, None)

    async def write_track(self, activity_id: uuid.UUID, track: Track) -> list[int]:
        self._check()
        parts = self.rows.setdefault(activity_id, {})
        buckets = (track.t // self.bucket_seconds).astype(int)
        for b in sorted(set(buckets.tolist())):
            parts.setdefault(b, {})[0] = track.take(np.flatnonzero(buckets == b))
        self.writes += 1
        return sorted(set(buckets.tolist()))

    async def read_track(self, activity_id: uuid.UUID, buckets: Sequence[int]) -> Track:
        self._check()
        parts = self.rows.get(activity_id, {})
        tracks = [chunk for b in sorted(buckets) for _, chunk in sorted(parts.get(b, {}).items())]
        if not tracks:
            return Track.empty()
        return Track(**{c: np.concatenate([getattr(x, c) for x in tracks]) for c in CHANNELS})

    async def write_batch(self, activity_id: uuid.UUID, seq: int, track: Track) -> int:
        self._check()
        bucket = (seq - 1) // 720
        self.rows.setdefault(activity_id, {}).setdefault(bucket, {})[seq] = track
        self.writes += 1
        return bucket

    async def read_batches(self, activity_id: uuid.UUID) -> dict[int, Track]:
        self._check()
        return {seq: t for part in self.rows.get(activity_id, {}).values() for seq, t in part.items()}

    async def purge(self, activity_id: uuid.UUID, buckets: Sequence[int]) -> None:
        self._check()
        parts = self.rows.get(activity_id, {})
        for b in buckets:
            parts.pop(b, None)
        if not parts:
            self.rows.pop(activity_id, None)

    def points(self, activity_id: uuid.UUID) -> int:
        """How many points are stored for an activity (test helper)."""
        return sum(len(t) for part in self.rows.get(activity_id, {}).values() for t in part.values())


class FakePurges:
    """services.ports.Purges: drains the committed sample_purges table into a FakeSamples."""

    def __init__(self, db: Any, samples: FakeSamples) -> None:
        self.db = db
        self.samples = samples

    async def run_pending(self, limit: int = 200) -> int:
        queue = self.db.tables["sample_purges"]
        done = 0
        for activity_id in list(queue)[:limit]:
            await self.samples.purge(activity_id, queue[activity_id])
            del queue[activity_id]
            done += 1
        return done


class FakeWorkouts:
    """services.ports.WorkoutShards that records calls; sessions are {activity_id: user_id}."""

    def __init__(self) -> None:
        self.sessions: dict[uuid.UUID, uuid.UUID] = {}
        self.calls: list[tuple[str, uuid.UUID]] = []

    def _owned(self, method: str, activity_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self.calls.append((method, activity_id))
        if self.sessions.get(activity_id) != user_id:
            raise NotFound("live workout")

    async def ingest(
        self, activity_id: uuid.UUID, user_id: uuid.UUID, seq: int, track: Track, absolute: bool
    ) -> dict[str, Any]:
        self._owned("ingest", activity_id, user_id)
        return {"acked_seq": seq, "missing": [], "highest_seq": seq, "duplicate": False}

    async def set_paused(self, activity_id: uuid.UUID, user_id: uuid.UUID, paused: bool) -> dict[str, Any]:
        self._owned("set_paused", activity_id, user_id)
        return {"paused": paused}

    async def metrics(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        self._owned("metrics", activity_id, user_id)
        return {"activity_id": str(activity_id)}

    async def finish(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        self._owned("finish", activity_id, user_id)
        del self.sessions[activity_id]
        return {"activity_id": str(activity_id)}

    async def discard(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        self._owned("discard", activity_id, user_id)
        del self.sessions[activity_id]
        return {"activity_id": str(activity_id)}
