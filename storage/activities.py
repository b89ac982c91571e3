"""Activity summaries in Postgres: inserts with their outbox event, reads, edits and deletes."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from domain.process import ProcessedActivity
from domain.profile import AthleteProfile

SUMMARY_COLUMNS = (
    "activity_id, user_id, type, name, start_time, duration, moving_time, distance, elevation_gain, calories,"
    " average_pace, average_speed, heart_rate_avg, summary_polyline, points_count, visibility, created_at"
)
FULL_COLUMNS = SUMMARY_COLUMNS + (
    ", client_id, status, notes, route_polyline, heart_rate_max, max_speed, elevation_loss, cadence_avg, power_avg,"
    " power_max, laps, splits, best_efforts, hr_zones, bbox, strength, version, updated_at, sample_buckets, request_hash"
)


def metric_columns(p: ProcessedActivity) -> dict[str, Any]:
    """The summary columns a processed activity fills."""
    return {
        "duration": p.elapsed_s, "moving_time": p.moving_s, "distance": p.distance_m,
        "elevation_gain": p.elevation_gain_m, "elevation_loss": p.elevation_loss_m, "calories": p.calories,
        "average_speed": p.avg_speed_mps, "max_speed": p.max_speed_mps, "average_pace": p.avg_pace_s_per_km,
        "heart_rate_avg": p.hr_avg, "heart_rate_max": p.hr_max, "cadence_avg": p.cadence_avg,
        "power_avg": p.power_avg, "power_max": p.power_max, "route_polyline": p.route_polyline,
        "summary_polyline": p.summary_polyline, "bbox": p.bbox, "points_count": p.points_count,
        "laps": Jsonb(_plain(p.laps)), "splits": Jsonb(_plain(p.splits)), "best_efforts": Jsonb(_plain(p.best_efforts)),
        "hr_zones": Jsonb(_plain(p.hr_zones)), "strength": Jsonb(_plain(p.strength)) if p.strength is not None else None,
    }


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=float))


async def add_event(conn: psycopg.AsyncConnection, event_type: str, user_id: uuid.UUID, aggregate_id: uuid.UUID,
                    payload: dict[str, Any]) -> uuid.UUID:
    """Append an event to the outbox inside the caller's transaction."""
    event_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO outbox (event_id, event_type, user_id, aggregate_id, payload) VALUES (%s, %s, %s, %s, %s)",
        (event_id, event_type, user_id, aggregate_id, Jsonb(_plain(payload))),
    )
    return event_id


async def insert_activity(conn: psycopg.AsyncConnection, row: dict[str, Any]) -> bool:
    """Insert a summary row; False if (user_id, client_id) already exists (the caller then reads the winner)."""
    cols = list(row)
    cur = await conn.execute(
        f"INSERT INTO activities ({', '.join(cols)}) VALUES ({', '.join('%s' for _ in cols)})"
        # any unique conflict means a twin won: the same (user, client_id) or, equivalently, the same derived id
        " ON CONFLICT DO NOTHING RETURNING activity_id",
        [row[c] for c in cols],
    )
    return await cur.fetchone() is not None


async def insert_sets(conn: psycopg.AsyncConnection, activity_id: uuid.UUID, sets: list[dict[str, Any]]) -> None:
    """Store the strength sets of an activity."""
    if not sets:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO strength_sets (activity_id, idx, exercise, reps, weight_kg, rpe, rest_s) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(activity_id, i, s["exercise"], s["reps"], s["weight_kg"], s.get("rpe"), s.get("rest_s")) for i, s in enumerate(sets)],
        )


async def get_by_client_id(conn: psycopg.AsyncConnection, user_id: uuid.UUID, client_id: str) -> dict[str, Any] | None:
    """The activity a client id already created, if any."""
    cur = await conn.execute("SELECT activity_id, request_hash FROM activities WHERE user_id = %s AND client_id = %s",
                             (user_id, client_id))
    return await cur.fetchone()


async def get_activity(conn: psycopg.AsyncConnection, activity_id: uuid.UUID, user_id: uuid.UUID,
                       *, for_update: bool = False) -> dict[str, Any] | None:
    """A user's activity with its sets; None if missing or someone else's."""
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(f"SELECT {FULL_COLUMNS} FROM activities WHERE activity_id = %s AND user_id = %s{lock}",
                             (activity_id, user_id))
    row = await cur.fetchone()
    if row is None:
        return None
    cur = await conn.execute(
        "SELECT exercise, reps, weight_kg, rpe, rest_s FROM strength_sets WHERE activity_id = %s ORDER BY idx", (activity_id,)
    )
    row["sets"] = await cur.fetchall()
    cur = await conn.execute("SELECT insights FROM activity_insights WHERE activity_id = %s", (activity_id,))
    found = await cur.fetchone()
    row["insights"] = found["insights"] if found else []
    return row


async def list_activities(conn: psycopg.AsyncConnection, user_id: uuid.UUID, *, limit: int, offset: int,
                          before: Any = None, after: Any = None, sport: str | None = None) -> list[dict[str, Any]]:
    """A user's saved activities, newest first, with optional time window and sport filter."""
    where, params = ["user_id = %s", "status = 'saved'"], [user_id]
    if before is not None:
        where.append("start_time < %s"); params.append(before)
    if after is not None:
        where.append("start_time > %s"); params.append(after)
    if sport is not None:
        where.append("type = %s"); params.append(sport)
    cur = await conn.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM activities WHERE {' AND '.join(where)}"
        " ORDER BY start_time DESC, activity_id DESC LIMIT %s OFFSET %s", [*params, limit, offset],
    )
    return await cur.fetchall()


async def update_activity(conn: psycopg.AsyncConnection, activity_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply changes, bump the version; returns the new version and updated_at."""
    sets = ", ".join(f"{c} = %s" for c in changes)
    cur = await conn.execute(
        f"UPDATE activities SET {sets}{', ' if sets else ''}version = version + 1, updated_at = now()"
        " WHERE activity_id = %s RETURNING version, updated_at", [*changes.values(), activity_id],
    )
    return await cur.fetchone()


async def delete_activity(conn: psycopg.AsyncConnection, activity_id: uuid.UUID) -> None:
    """Delete the summary and queue its samples for purging, in the caller's transaction."""
    await conn.execute(
        "INSERT INTO sample_purges (activity_id, buckets) SELECT activity_id, sample_buckets FROM activities"
        " WHERE activity_id = %s AND cardinality(sample_buckets) > 0 ON CONFLICT (activity_id) DO NOTHING", (activity_id,)
    )
    await conn.execute("DELETE FROM activities WHERE activity_id = %s", (activity_id,))


async def athlete_profile(conn: psycopg.AsyncConnection, user_id: uuid.UUID) -> AthleteProfile:
    """The profile processing uses (defaults where the user left a field empty)."""
    cur = await conn.execute("SELECT weight_kg, max_hr, resting_hr, birth_year, sex FROM users WHERE user_id = %s",
                             (user_id,))
    row = await cur.fetchone() or {}
    return AthleteProfile(weight_kg=row.get("weight_kg") or 70.0, max_hr=row.get("max_hr"),
                          resting_hr=row.get("resting_hr"), birth_year=row.get("birth_year"), sex=row.get("sex"))


def event_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The outbox payload announcing an activity (ids and headline numbers)."""
    keys = ("activity_id", "user_id", "type", "start_time", "duration", "moving_time", "distance", "elevation_gain",
            "calories")
    return {k: (str(row[k]) if isinstance(row[k], (uuid.UUID, dt.datetime)) else row[k]) for k in keys}
