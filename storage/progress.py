"""Postgres side of user stats: facts from activity rows, goals, checkpoints, insights."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from domain.progress.facts import ActivityFact
from domain.progress.goals import Goal

FACT_COLUMNS = ("activity_id, type, start_time, distance, moving_time, duration, elevation_gain, calories,"
                " heart_rate_avg, best_efforts, strength, version")


def fact_from_row(row: dict[str, Any]) -> ActivityFact:
    """The slice of an activity summary row that stats need."""
    efforts = []
    for e in row.get("best_efforts") or []:
        if "watts" in e:
            efforts.append((e["name"], float(e["watts"])))
        elif e.get("elapsed_s") is not None:
            efforts.append((e["name"], float(e["elapsed_s"])))
    strength = row.get("strength") or {}
    return ActivityFact(
        activity_id=str(row["activity_id"]), sport=row["type"], start_time=row["start_time"],
        distance_m=float(row["distance"] or 0), moving_s=float(row["moving_time"] or 0),
        elapsed_s=float(row["duration"] or 0), elevation_gain_m=float(row["elevation_gain"] or 0),
        calories=float(row["calories"] or 0), volume_kg=float(strength.get("total_volume_kg") or 0),
        hr_avg=row["heart_rate_avg"], best_efforts=tuple(efforts),
        one_rm=tuple((k, float(v)) for k, v in (strength.get("best_1rm") or {}).items()),
        revision=int(row["version"]),
    )


async def fact(conn: psycopg.AsyncConnection, activity_id: uuid.UUID) -> ActivityFact | None:
    """The current fact of a saved activity (None if it is gone or still live)."""
    cur = await conn.execute(f"SELECT {FACT_COLUMNS} FROM activities WHERE activity_id = %s AND status = 'saved'",
                             (activity_id,))
    row = await cur.fetchone()
    return fact_from_row(row) if row else None


async def all_facts(conn: psycopg.AsyncConnection, user_id: uuid.UUID) -> list[ActivityFact]:
    """Every saved activity of a user as facts (the from-scratch source of truth)."""
    cur = await conn.execute(f"SELECT {FACT_COLUMNS} FROM activities WHERE user_id = %s AND status = 'saved'",
                             (user_id,))
    return [fact_from_row(r) for r in await cur.fetchall()]


def goal_from_row(row: dict[str, Any]) -> Goal:
    """Domain goal from its row."""
    return Goal(goal_id=str(row["goal_id"]), goal_type=row["goal_type"], target_value=float(row["target_value"]),
                start_date=row["start_date"], end_date=row["end_date"], sport=row["sport"])


GOAL_COLUMNS = "goal_id, user_id, goal_type, target_value, sport, start_date, end_date, created_at, updated_at"


async def goals(conn: psycopg.AsyncConnection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """A user's goal rows, oldest first."""
    cur = await conn.execute(f"SELECT {GOAL_COLUMNS} FROM goals WHERE user_id = %s ORDER BY created_at, goal_id",
                             (user_id,))
    return await cur.fetchall()


async def user_context(conn: psycopg.AsyncConnection, user_id: uuid.UUID) -> dict[str, Any] | None:
    """Timezone and the profile fields training load uses."""
    cur = await conn.execute("SELECT timezone, max_hr, resting_hr, sex, birth_year FROM users WHERE user_id = %s",
                             (user_id,))
    return await cur.fetchone()


def profile_of(ctx: dict[str, Any]) -> dict[str, Any]:
    """The profile dict UserStats takes."""
    return {k: ctx[k] for k in ("max_hr", "resting_hr", "sex", "birth_year") if ctx.get(k) is not None}


async def load_checkpoint(conn: psycopg.AsyncConnection, user_id: uuid.UUID) -> dict[str, Any] | None:
    """The last saved state of a user's stats."""
    cur = await conn.execute("SELECT state FROM user_stats WHERE user_id = %s", (user_id,))
    row = await cur.fetchone()
    return row["state"] if row else None


async def save_checkpoint(conn: psycopg.AsyncConnection, user_id: uuid.UUID, state: dict[str, Any]) -> None:
    """Upsert the state (in the caller's transaction, together with the events it emitted)."""
    await conn.execute(
        "INSERT INTO user_stats (user_id, state, updated_at) VALUES (%s, %s, now())"
        " ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
        (user_id, Jsonb(json.loads(json.dumps(state, default=str)))),
    )


async def save_insights(conn: psycopg.AsyncConnection, activity_id: uuid.UUID, insights: list[dict[str, Any]]) -> None:
    """Store an activity's insights (only while the activity exists)."""
    await conn.execute(
        "INSERT INTO activity_insights (activity_id, insights) SELECT %s, %s WHERE EXISTS"
        " (SELECT 1 FROM activities WHERE activity_id = %s)"
        " ON CONFLICT (activity_id) DO UPDATE SET insights = EXCLUDED.insights, updated_at = now()",
        (activity_id, Jsonb(json.loads(json.dumps(insights, default=str))), activity_id),
    )


def today_in(tz: str) -> dt.date:
    """Today's date in a timezone."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(tz)).date()
