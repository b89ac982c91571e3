"""Live workout rows in Postgres: the session, its pause events and share links."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


async def create_live(conn: psycopg.AsyncConnection, activity_id: uuid.UUID, user_id: uuid.UUID, sport: str,
                      start_time: dt.datetime, client_id: str | None) -> bool:
    """Insert the live activity and its session; False if the client id already made one."""
    cur = await conn.execute(
        "INSERT INTO activities (activity_id, user_id, client_id, status, type, start_time, request_hash)"
        " VALUES (%s, %s, %s, 'live', %s, %s, 'live') ON CONFLICT DO NOTHING"
        " RETURNING activity_id", (activity_id, user_id, client_id, sport, start_time),
    )
    if await cur.fetchone() is None:
        return False
    await conn.execute("INSERT INTO live_sessions (activity_id, user_id) VALUES (%s, %s)", (activity_id, user_id))
    return True


async def get_live(conn: psycopg.AsyncConnection, activity_id: uuid.UUID) -> dict[str, Any] | None:
    """The live activity with its session row (None if not live)."""
    cur = await conn.execute(
        "SELECT a.activity_id, a.user_id, a.type, a.start_time, s.pauses, s.last_seen_at FROM activities a"
        " JOIN live_sessions s USING (activity_id) WHERE a.activity_id = %s AND a.status = 'live'", (activity_id,)
    )
    return await cur.fetchone()


async def save_pauses(conn: psycopg.AsyncConnection, activity_id: uuid.UUID, pauses: list[dict[str, Any]]) -> None:
    """Persist the pause/resume events."""
    await conn.execute("UPDATE live_sessions SET pauses = %s, last_seen_at = now() WHERE activity_id = %s",
                       (Jsonb(pauses), activity_id))


async def touch(conn: psycopg.AsyncConnection, activity_ids: list[uuid.UUID]) -> None:
    """Record that these sessions were active just now (for idle detection after a restart)."""
    await conn.execute("UPDATE live_sessions SET last_seen_at = now() WHERE activity_id = ANY(%s)", (activity_ids,))


async def idle_sessions(conn: psycopg.AsyncConnection, idle_s: float, limit: int = 100) -> list[dict[str, Any]]:
    """Live sessions not seen for idle_s seconds."""
    cur = await conn.execute(
        "SELECT activity_id, user_id FROM live_sessions WHERE last_seen_at < now() - make_interval(secs => %s)"
        " ORDER BY last_seen_at LIMIT %s", (idle_s, limit),
    )
    return await cur.fetchall()


async def end_live(conn: psycopg.AsyncConnection, activity_id: uuid.UUID) -> None:
    """Drop the live session row and every share link (they expire with the workout)."""
    await conn.execute("UPDATE live_shares SET revoked_at = now() WHERE activity_id = %s AND revoked_at IS NULL",
                       (activity_id,))
    await conn.execute("DELETE FROM live_sessions WHERE activity_id = %s", (activity_id,))


async def create_share(conn: psycopg.AsyncConnection, activity_id: uuid.UUID, user_id: uuid.UUID,
                       token_hash: bytes) -> dict[str, Any]:
    """A new share link row."""
    cur = await conn.execute(
        "INSERT INTO live_shares (share_id, activity_id, user_id, token_hash) VALUES (%s, %s, %s, %s)"
        " RETURNING share_id, created_at", (uuid.uuid4(), activity_id, user_id, token_hash),
    )
    return await cur.fetchone()


async def revoke_share(conn: psycopg.AsyncConnection, activity_id: uuid.UUID, share_id: uuid.UUID) -> bool:
    """Revoke a share link; False if it does not exist for that activity."""
    cur = await conn.execute(
        "UPDATE live_shares SET revoked_at = coalesce(revoked_at, now()) WHERE share_id = %s AND activity_id = %s"
        " RETURNING share_id", (share_id, activity_id),
    )
    return await cur.fetchone() is not None


async def share_target(conn: psycopg.AsyncConnection, token_hash: bytes) -> dict[str, Any] | None:
    """The live activity an unrevoked share token opens (None once revoked or the workout ended)."""
    cur = await conn.execute(
        "SELECT s.activity_id, s.user_id FROM live_shares s JOIN activities a USING (activity_id)"
        " WHERE s.token_hash = %s AND s.revoked_at IS NULL AND a.status = 'live'", (token_hash,)
    )
    return await cur.fetchone()
