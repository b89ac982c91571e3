"""Postgres queries for accounts: users, login sessions, refresh tokens and devices (each takes a connection)."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import psycopg

USER_COLUMNS = ("user_id, email, name, timezone, birth_year, sex, weight_kg, max_hr, resting_hr, preferences,"
                " created_at, updated_at")
DEVICE_COLUMNS = "device_id, user_id, kind, external_id, name, created_at, last_used_at"
PROFILE_FIELDS = ("name", "timezone", "birth_year", "sex", "weight_kg", "max_hr", "resting_hr")


class EmailTaken(Exception):
    """Another account already uses this email (compared case-insensitively)."""


# ---------------------------------------------------------------- users

async def insert_user(conn: psycopg.AsyncConnection, user_id: uuid.UUID, email: str, password_hash: str,
                      profile: dict[str, Any], preferences: dict[str, Any]) -> dict[str, Any]:
    """Create a user; raises EmailTaken on a duplicate email."""
    fields = {k: profile.get(k) for k in PROFILE_FIELDS}
    fields["timezone"] = fields["timezone"] or "UTC"
    try:
        cur = await conn.execute(
            f"INSERT INTO users (user_id, email, password_hash, {', '.join(PROFILE_FIELDS)}, preferences)"
            f" VALUES (%s, %s, %s, {', '.join(['%s'] * len(PROFILE_FIELDS))}, %s) RETURNING {USER_COLUMNS}",
            (user_id, email, password_hash, *fields.values(), json.dumps(preferences)),
        )
    except psycopg.errors.UniqueViolation as exc:
        raise EmailTaken(email) from exc
    return await cur.fetchone()


async def get_user(conn: psycopg.AsyncConnection, user_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
    """A user's public row, or None."""
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE user_id = %s{lock}", (user_id,))
    return await cur.fetchone()


async def credentials_for_email(conn: psycopg.AsyncConnection, email: str) -> dict[str, Any] | None:
    """{user_id, password_hash} for an email (case-insensitive), or None."""
    cur = await conn.execute("SELECT user_id, password_hash FROM users WHERE email_lower = lower(%s)", (email.strip(),))
    return await cur.fetchone()


async def set_password_hash(conn: psycopg.AsyncConnection, user_id: uuid.UUID, password_hash: str) -> None:
    """Replace a user's password hash (rehash after a parameter change)."""
    await conn.execute("UPDATE users SET password_hash = %s WHERE user_id = %s", (password_hash, user_id))


async def update_user(conn: psycopg.AsyncConnection, user_id: uuid.UUID, changes: dict[str, Any],
                      preferences: dict[str, Any] | None) -> dict[str, Any] | None:
    """Apply profile changes (None clears a field) and merge preference keys; returns the new row."""
    sets = [f"{name} = %s" for name in changes]
    params: list[Any] = list(changes.values())
    if preferences:
        sets.append("preferences = preferences || %s::jsonb")
        params.append(json.dumps(preferences))
    sets.append("updated_at = now()")
    cur = await conn.execute(
        f"UPDATE users SET {', '.join(sets)} WHERE user_id = %s RETURNING {USER_COLUMNS}", (*params, user_id)
    )
    return await cur.fetchone()


# ---------------------------------------------------------------- sessions and refresh tokens

async def create_session(conn: psycopg.AsyncConnection, user_id: uuid.UUID, refresh_hash: bytes,
                         refresh_ttl_s: int) -> uuid.UUID:
    """A new login session with its first refresh token; returns the session id."""
    session_id = uuid.uuid4()
    await conn.execute("INSERT INTO auth_sessions (session_id, user_id) VALUES (%s, %s)", (session_id, user_id))
    await insert_refresh_token(conn, session_id, user_id, refresh_hash, refresh_ttl_s)
    return session_id


async def insert_refresh_token(conn: psycopg.AsyncConnection, session_id: uuid.UUID, user_id: uuid.UUID,
                               refresh_hash: bytes, ttl_s: int) -> None:
    """Store a refresh token's hash in a session's family."""
    await conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)"
        " VALUES (%s, %s, %s, now() + make_interval(secs => %s))",
        (refresh_hash, session_id, user_id, ttl_s),
    )


async def lock_refresh_token(conn: psycopg.AsyncConnection, refresh_hash: bytes) -> dict[str, Any] | None:
    """The refresh token row with its session's revocation, locked until the transaction ends."""
    cur = await conn.execute(
        "SELECT t.session_id, t.user_id, t.used_at, t.expires_at <= now() AS expired, s.revoked_at"
        " FROM refresh_tokens t JOIN auth_sessions s USING (session_id)"
        " WHERE t.token_hash = %s FOR UPDATE OF t, s",
        (refresh_hash,),
    )
    return await cur.fetchone()


async def mark_refresh_used(conn: psycopg.AsyncConnection, refresh_hash: bytes) -> None:
    """Consume a refresh token (it can never be used again)."""
    await conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = %s", (refresh_hash,))


async def revoke_session(conn: psycopg.AsyncConnection, session_id: uuid.UUID, reason: str) -> None:
    """Revoke a session (first reason wins) and drop its refresh tokens' usability."""
    await conn.execute(
        "UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now()), revoke_reason = coalesce(revoke_reason, %s)"
        " WHERE session_id = %s", (reason, session_id),
    )


async def session_state(conn: psycopg.AsyncConnection, session_id: uuid.UUID, user_id: uuid.UUID) -> bool | None:
    """True if the session is active, False if revoked, None if it does not exist (or is another user's)."""
    cur = await conn.execute(
        "SELECT revoked_at FROM auth_sessions WHERE session_id = %s AND user_id = %s", (session_id, user_id)
    )
    row = await cur.fetchone()
    return None if row is None else row["revoked_at"] is None


# ---------------------------------------------------------------- devices

async def insert_device(conn: psycopg.AsyncConnection, user_id: uuid.UUID, kind: str, external_id: str | None,
                        name: str | None, device_token_hash: bytes) -> dict[str, Any]:
    """Link a device to a user."""
    cur = await conn.execute(
        "INSERT INTO devices (device_id, user_id, kind, external_id, name, token_hash) VALUES (%s, %s, %s, %s, %s, %s)"
        f" RETURNING {DEVICE_COLUMNS}", (uuid.uuid4(), user_id, kind, external_id, name, device_token_hash),
    )
    return await cur.fetchone()


async def list_devices(conn: psycopg.AsyncConnection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """A user's linked (not revoked) devices, oldest first."""
    cur = await conn.execute(
        f"SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = %s AND revoked_at IS NULL"
        " ORDER BY created_at, device_id", (user_id,),
    )
    return await cur.fetchall()


async def get_device(conn: psycopg.AsyncConnection, user_id: uuid.UUID, device_id: uuid.UUID) -> dict[str, Any] | None:
    """One of a user's linked devices, or None (also for another user's device)."""
    cur = await conn.execute(
        f"SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = %s AND user_id = %s AND revoked_at IS NULL",
        (device_id, user_id),
    )
    return await cur.fetchone()


async def revoke_device(conn: psycopg.AsyncConnection, user_id: uuid.UUID, device_id: uuid.UUID) -> bool:
    """Unlink a device: its token stops working at once; False if it was not a linked device of this user."""
    cur = await conn.execute(
        "UPDATE devices SET revoked_at = now() WHERE device_id = %s AND user_id = %s AND revoked_at IS NULL"
        " RETURNING device_id", (device_id, user_id),
    )
    return await cur.fetchone() is not None


async def device_for_token(conn: psycopg.AsyncConnection, device_token_hash: bytes,
                           touch_after: dt.timedelta = dt.timedelta(minutes=1)) -> dict[str, Any] | None:
    """{device_id, user_id} of the linked device owning a token (last_used_at refreshed at most once a minute)."""
    cur = await conn.execute(
        "SELECT device_id, user_id, last_used_at FROM devices WHERE token_hash = %s AND revoked_at IS NULL",
        (device_token_hash,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    if row["last_used_at"] is None or row["last_used_at"] < dt.datetime.now(dt.timezone.utc) - touch_after:
        await conn.execute("UPDATE devices SET last_used_at = now() WHERE device_id = %s", (row["device_id"],))
    return {"device_id": row["device_id"], "user_id": row["user_id"]}
