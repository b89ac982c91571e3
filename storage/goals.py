"""Goal definitions (Postgres `goals`); their progress is derived by the user's StatsShard.

`PgGoals` is the unit of work's `goals` repository (services.ports.GoalRepository).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

GOAL_COLUMNS = "goal_id, user_id, goal_type, target_value, sport, start_date, end_date, created_at, updated_at"
EDITABLE = ("goal_type", "target_value", "sport", "start_date", "end_date")


class PgGoals:
    """services.ports.GoalRepository bound to a unit of work's connection."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def list(self, user_id: uuid.UUID) -> list[dict[str, Any]]:
        """A user's goal rows, oldest first."""
        cur = await self.conn.execute(
            f"SELECT {GOAL_COLUMNS} FROM goals WHERE user_id = %s ORDER BY created_at, goal_id", (user_id,)
        )
        return await cur.fetchall()

    async def get(self, goal_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any] | None:
        """One of a user's goals (None if missing or someone else's)."""
        cur = await self.conn.execute(
            f"SELECT {GOAL_COLUMNS} FROM goals WHERE goal_id = %s AND user_id = %s", (goal_id, user_id)
        )
        return await cur.fetchone()

    async def count_locked(self, user_id: uuid.UUID) -> int:
        """How many goals the user has, holding the user's goal lock until the transaction ends (so two concurrent
        creates cannot both pass the per-user cap)."""
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('goals:' || %s::text, 0))", (user_id,))
        cur = await self.conn.execute("SELECT count(*) AS n FROM goals WHERE user_id = %s", (user_id,))
        row = await cur.fetchone()
        return int(row["n"]) if row else 0

    async def insert(self, row: Mapping[str, Any]) -> None:
        """A new goal {goal_id, user_id, goal_type, target_value, sport, start_date, end_date}."""
        await self.conn.execute(
            "INSERT INTO goals (goal_id, user_id, goal_type, target_value, sport, start_date, end_date)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                row["goal_id"],
                row["user_id"],
                row["goal_type"],
                row["target_value"],
                row.get("sport"),
                row["start_date"],
                row.get("end_date"),
            ),
        )

    async def update(self, goal_id: uuid.UUID, changes: Mapping[str, Any]) -> None:
        """Change editable columns of a goal."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        if not changes:
            return
        sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in changes)
        await self.conn.execute(
            sql.SQL("UPDATE goals SET {}, updated_at = now() WHERE goal_id = %s").format(sets),
            (*changes.values(), goal_id),
        )

    async def delete(self, goal_id: uuid.UUID) -> bool:
        """Delete a goal; False if it did not exist."""
        cur = await self.conn.execute("DELETE FROM goals WHERE goal_id = %s", (goal_id,))
        return cur.rowcount > 0
