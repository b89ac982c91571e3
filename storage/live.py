"""Live workouts in Postgres: the LiveRepository (services.ports) over the `activities` row of a live workout, its
`live_sessions` row (pause events, last activity) and its `live_shares` (read-only follow links)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

LIVE_REQUEST_HASH = "live"  # what a live row holds in request_hash: a client id reused for an upload is a conflict


class PgLive:
    """LiveRepository on one connection (inside a unit of work's transaction)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def create(
        self, activity_id: uuid.UUID, user_id: uuid.UUID, sport: str, start_time: dt.datetime, client_id: str | None
    ) -> bool:
        # sample_buckets starts at [0]: the partition batch 1 goes to, recorded before anything is written there
        cur = await self.conn.execute(
            "INSERT INTO activities (activity_id, user_id, client_id, status, type, start_time, request_hash,"
            " sample_buckets) VALUES (%s, %s, %s, 'live', %s, %s, %s, '{0}') ON CONFLICT DO NOTHING"
            " RETURNING activity_id",
            (activity_id, user_id, client_id, sport, start_time, LIVE_REQUEST_HASH),
        )
        if await cur.fetchone() is None:
            return False
        await self.conn.execute(
            "INSERT INTO live_sessions (activity_id, user_id) VALUES (%s, %s)", (activity_id, user_id)
        )
        return True

    async def get(self, activity_id: uuid.UUID) -> dict[str, Any] | None:
        cur = await self.conn.execute(
            "SELECT a.activity_id, a.user_id, a.type, a.start_time, a.sample_buckets, s.pauses, s.last_seen_at"
            " FROM activities a JOIN live_sessions s USING (activity_id)"
            " WHERE a.activity_id = %s AND a.status = 'live'",
            (activity_id,),
        )
        row: dict[str, Any] | None = await cur.fetchone()
        return row

    async def save_pauses(self, activity_id: uuid.UUID, pauses: Sequence[dict[str, Any]]) -> None:
        await self.conn.execute(
            "UPDATE live_sessions SET pauses = %s, last_seen_at = now() WHERE activity_id = %s",
            (Jsonb(list(pauses)), activity_id),
        )

    async def record_buckets(self, activity_id: uuid.UUID, buckets: Sequence[int]) -> None:
        await self.conn.execute(
            "UPDATE activities SET sample_buckets = ARRAY(SELECT DISTINCT b FROM unnest(sample_buckets || %s::int[]) b"
            " ORDER BY b) WHERE activity_id = %s AND status = 'live'",
            (list(buckets), activity_id),
        )

    async def touch(self, activity_ids: Sequence[uuid.UUID]) -> None:
        await self.conn.execute(
            "UPDATE live_sessions SET last_seen_at = now() WHERE activity_id = ANY(%s)", (list(activity_ids),)
        )

    async def idle(self, idle_s: float, limit: int = 100) -> list[dict[str, Any]]:
        cur = await self.conn.execute(
            "SELECT activity_id, user_id FROM live_sessions WHERE last_seen_at < now() - make_interval(secs => %s)"
            " ORDER BY last_seen_at LIMIT %s",
            (idle_s, limit),
        )
        rows: list[dict[str, Any]] = await cur.fetchall()
        return rows

    async def end(self, activity_id: uuid.UUID) -> None:
        await self.conn.execute(
            "UPDATE live_shares SET revoked_at = now() WHERE activity_id = %s AND revoked_at IS NULL", (activity_id,)
        )
        await self.conn.execute("DELETE FROM live_sessions WHERE activity_id = %s", (activity_id,))

    async def create_share(self, activity_id: uuid.UUID, user_id: uuid.UUID, token_hash: bytes) -> dict[str, Any]:
        cur = await self.conn.execute(
            "INSERT INTO live_shares (share_id, activity_id, user_id, token_hash) VALUES (%s, %s, %s, %s)"
            " RETURNING share_id, created_at",
            (uuid.uuid4(), activity_id, user_id, token_hash),
        )
        row = await cur.fetchone()
        assert row is not None  # INSERT ... RETURNING always returns the row
        return dict(row)

    async def revoke_share(self, activity_id: uuid.UUID, share_id: uuid.UUID) -> bool:
        cur = await self.conn.execute(
            "UPDATE live_shares SET revoked_at = coalesce(revoked_at, now()) WHERE share_id = %s AND activity_id = %s"
            " RETURNING share_id",
            (share_id, activity_id),
        )
        return await cur.fetchone() is not None

    async def share_target(self, token_hash: bytes) -> dict[str, Any] | None:
        cur = await self.conn.execute(
            "SELECT s.share_id, s.activity_id, s.user_id FROM live_shares s JOIN activities a USING (activity_id)"
            " WHERE s.token_hash = %s AND s.revoked_at IS NULL AND a.status = 'live'",
            (token_hash,),
        )
        row: dict[str, Any] | None = await cur.fetchone()
        return row


# ---------------------------------------------------------------------------------------------- legacy (transition)
# Used by actors/repairs.finish_idle_sessions (the janitor) until it moves onto the unit of work.


async def idle_sessions(conn: psycopg.AsyncConnection[Any], idle_s: float, limit: int = 100) -> list[dict[str, Any]]:
    """Live sessions not seen for idle_s seconds."""
    return await PgLive(conn).idle(idle_s, limit)
