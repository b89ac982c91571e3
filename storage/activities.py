"""Activity summaries in Postgres (`activities`, `strength_sets`, `activity_insights`): the ActivityRepository."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from domain.profile import AthleteProfile

SUMMARY_COLUMNS = (
    "activity_id, user_id, type, name, start_time, duration, moving_time, distance, elevation_gain, calories,"
    " average_pace, average_speed, heart_rate_avg, summary_polyline, points_count, visibility, created_at"
)
FULL_COLUMNS = SUMMARY_COLUMNS + (
    ", client_id, status, notes, route_polyline, heart_rate_max, max_speed, elevation_loss, cadence_avg, power_avg,"
    " power_max, laps, splits, best_efforts, hr_zones, bbox, strength, version, updated_at, sample_buckets,"
    " request_hash"
)


_JSON_COLUMNS = frozenset({"laps", "splits", "best_efforts", "hr_zones", "strength"})


def _json(value: Any) -> bytes:
    """One pass of orjson (numpy scalars and arrays as numbers, NaN as null) instead of json dumps/loads/dumps."""
    return orjson.dumps(value, default=float, option=orjson.OPT_SERIALIZE_NUMPY)


def _adapt(column: str, value: Any) -> Any:
    """JSON columns as Jsonb (NaN/numpy -> plain floats); everything else as is."""
    if column in _JSON_COLUMNS and value is not None:
        return Jsonb(value, dumps=_json)
    return value


class PgActivities:
    """ActivityRepository on one connection (inside a unit of work's transaction)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def by_client_id(self, user_id: uuid.UUID, client_id: str) -> dict[str, Any] | None:
        cur = await self.conn.execute(
            "SELECT activity_id, request_hash FROM activities WHERE user_id = %s AND client_id = %s",
            (user_id, client_id),
        )
        return await cur.fetchone()

    async def insert(self, row: dict[str, Any]) -> bool:
        cols = list(row)
        cur = await self.conn.execute(
            f"INSERT INTO activities ({', '.join(cols)}) VALUES ({', '.join('%s' for _ in cols)})"
            # any unique conflict means a twin won: the same (user, client_id) or, equivalently, the same derived id
            " ON CONFLICT DO NOTHING RETURNING activity_id",
            [_adapt(c, row[c]) for c in cols],
        )
        return await cur.fetchone() is not None

    async def insert_sets(self, activity_id: uuid.UUID, sets: Sequence[dict[str, Any]]) -> None:
        if not sets:
            return
        async with self.conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO strength_sets (activity_id, idx, exercise, reps, weight_kg, rpe, rest_s)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (activity_id, i, s["exercise"], s["reps"], s["weight_kg"], s.get("rpe"), s.get("rest_s"))
                    for i, s in enumerate(sets)
                ],
            )

    async def get(
        self, activity_id: uuid.UUID, user_id: uuid.UUID, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        lock = " FOR UPDATE OF a" if for_update else ""
        cur = await self.conn.execute(
            f"SELECT {', '.join('a.' + c.strip() for c in FULL_COLUMNS.split(','))},"
            " coalesce(i.insights, '[]'::jsonb) AS insights,"
            " coalesce((SELECT jsonb_agg(jsonb_build_object('exercise', s.exercise, 'reps', s.reps,"
            " 'weight_kg', s.weight_kg, 'rpe', s.rpe, 'rest_s', s.rest_s) ORDER BY s.idx)"
            " FROM strength_sets s WHERE s.activity_id = a.activity_id), '[]'::jsonb) AS sets"
            f" FROM activities a LEFT JOIN activity_insights i USING (activity_id)"
            f" WHERE a.activity_id = %s AND a.user_id = %s{lock}",
            (activity_id, user_id),
        )
        return await cur.fetchone()

    async def status(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
        cur = await self.conn.execute(
            "SELECT status FROM activities WHERE activity_id = %s AND user_id = %s", (activity_id, user_id)
        )
        row = await cur.fetchone()
        return row["status"] if row else None

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
        where: list[str] = ["user_id = %s", "status = 'saved'"]
        params: list[Any] = [user_id]
        if before is not None:
            where.append("start_time < %s")
            params.append(before)
        if after is not None:
            where.append("start_time > %s")
            params.append(after)
        if sport is not None:
            where.append("type = %s")
            params.append(sport)
        cur = await self.conn.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM activities WHERE {' AND '.join(where)}"
            " ORDER BY start_time DESC, activity_id DESC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        return await cur.fetchall()

    async def update(self, activity_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any]:
        sets = ", ".join(f"{c} = %s" for c in changes)
        cur = await self.conn.execute(
            f"UPDATE activities SET {sets}{', ' if sets else ''}version = version + 1, updated_at = now()"
            " WHERE activity_id = %s RETURNING version, updated_at",
            [*(_adapt(c, v) for c, v in changes.items()), activity_id],
        )
        row: dict[str, Any] | None = await cur.fetchone()
        if row is None:
            raise LookupError(f"activity {activity_id} vanished inside its own transaction")
        return row

    async def delete(self, activity_id: uuid.UUID, buckets: Sequence[int] | None = None) -> None:
        if buckets is None:
            await self.conn.execute(
                "INSERT INTO sample_purges (activity_id, buckets) SELECT activity_id, sample_buckets FROM activities"
                " WHERE activity_id = %s AND cardinality(sample_buckets) > 0 ON CONFLICT (activity_id) DO NOTHING",
                (activity_id,),
            )
        elif buckets:
            await self.conn.execute(
                "INSERT INTO sample_purges (activity_id, buckets) VALUES (%s, %s)"
                " ON CONFLICT (activity_id) DO UPDATE SET buckets = EXCLUDED.buckets",
                (activity_id, list(buckets)),
            )
        await self.conn.execute("DELETE FROM activities WHERE activity_id = %s", (activity_id,))

    async def athlete_profile(self, user_id: uuid.UUID) -> AthleteProfile:
        cur = await self.conn.execute(
            "SELECT weight_kg, max_hr, resting_hr, birth_year, sex FROM users WHERE user_id = %s", (user_id,)
        )
        row = await cur.fetchone() or {}
        return AthleteProfile(
            weight_kg=row.get("weight_kg") or 70.0,
            max_hr=row.get("max_hr"),
            resting_hr=row.get("resting_hr"),
            birth_year=row.get("birth_year"),
            sex=row.get("sex"),
        )
