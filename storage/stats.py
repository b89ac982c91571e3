"""Postgres side of user stats: activity facts, the user's timezone and profile, checkpoints, insights.

`PgStats` is the unit of work's `stats` repository (services.ports.StatsRepository); the StatsShard actor uses it
inside the transaction that also writes the events it emits.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from domain.progress.facts import ActivityFact

FACT_COLUMNS = (
    "activity_id, type, start_time, distance, moving_time, duration, elevation_gain, calories,"
    " heart_rate_avg, best_efforts, strength, version"
)
PROFILE_FIELDS = ("max_hr", "resting_hr", "sex", "birth_year")


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
        activity_id=str(row["activity_id"]),
        sport=row["type"],
        start_time=row["start_time"],
        distance_m=float(row["distance"] or 0),
        moving_s=float(row["moving_time"] or 0),
        elapsed_s=float(row["duration"] or 0),
        elevation_gain_m=float(row["elevation_gain"] or 0),
        calories=float(row["calories"] or 0),
        volume_kg=float(strength.get("total_volume_kg") or 0),
        hr_avg=row["heart_rate_avg"],
        best_efforts=tuple(efforts),
        one_rm=tuple((k, float(v)) for k, v in (strength.get("best_1rm") or {}).items()),
        revision=int(row["version"]),
    )


def profile_of(ctx: dict[str, Any]) -> dict[str, Any]:
    """The profile dict UserStats takes, from a user context row."""
    return {k: ctx[k] for k in PROFILE_FIELDS if ctx.get(k) is not None}


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY)))


class PgStats:
    """services.ports.StatsRepository bound to a unit of work's connection."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def lock_user(self, user_id: uuid.UUID) -> bool:
        """Hold the user row (FOR SHARE) until the transaction ends; False when the user is gone (erased)."""
        cur = await self.conn.execute("SELECT 1 FROM users WHERE user_id = %s FOR SHARE", (user_id,))
        return await cur.fetchone() is not None

    async def user_context(self, user_id: uuid.UUID) -> dict[str, Any] | None:
        """{timezone, max_hr, resting_hr, sex, birth_year} of a user (None if gone)."""
        cur = await self.conn.execute(
            "SELECT timezone, max_hr, resting_hr, sex, birth_year FROM users WHERE user_id = %s", (user_id,)
        )
        return await cur.fetchone()

    async def fact(self, activity_id: uuid.UUID) -> ActivityFact | None:
        """The current fact of a saved activity (None if it is gone or still live)."""
        cur = await self.conn.execute(
            f"SELECT {FACT_COLUMNS} FROM activities WHERE activity_id = %s AND status = 'saved'", (activity_id,)
        )
        row = await cur.fetchone()
        return fact_from_row(row) if row else None

    async def all_facts(self, user_id: uuid.UUID) -> list[ActivityFact]:
        """Every saved activity of a user as facts (the from-scratch source of truth)."""
        cur = await self.conn.execute(
            f"SELECT {FACT_COLUMNS} FROM activities WHERE user_id = %s AND status = 'saved'", (user_id,)
        )
        return [fact_from_row(r) for r in await cur.fetchall()]

    async def load_checkpoint(self, user_id: uuid.UUID) -> dict[str, Any] | None:
        """The last saved state of a user's stats."""
        cur = await self.conn.execute("SELECT state FROM user_stats WHERE user_id = %s", (user_id,))
        row: dict[str, Any] | None = await cur.fetchone()
        return row["state"] if row else None

    async def save_checkpoint(self, user_id: uuid.UUID, state: dict[str, Any]) -> None:
        """Upsert the state (in the transaction that also writes the events it emitted)."""
        await self.conn.execute(
            "INSERT INTO user_stats (user_id, state, updated_at) VALUES (%s, %s, now())"
            " ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            (user_id, _jsonb(state)),
        )

    async def save_insights(self, activity_id: uuid.UUID, insights: list[dict[str, Any]]) -> None:
        """Store an activity's insights (only while the activity exists)."""
        await self.conn.execute(
            "INSERT INTO activity_insights (activity_id, insights) SELECT %s, %s WHERE EXISTS"
            " (SELECT 1 FROM activities WHERE activity_id = %s)"
            " ON CONFLICT (activity_id) DO UPDATE SET insights = EXCLUDED.insights, updated_at = now()",
            (activity_id, _jsonb(insights), activity_id),
        )
