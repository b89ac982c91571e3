"""Accounts in Postgres: users, login sessions with their refresh tokens, linked devices, and account erasure.

Three repositories bound to a unit of work's connection (storage/uow.py exposes them as `uow.users`,
`uow.sessions`, `uow.devices`); they implement services.ports.UserRepository, LoginSessionRepository and
DeviceRepository. Emails are looked up only by `email_key`, the comparison form computed in Python
(domain.accounts.normalize_email) and unique in the database: Postgres never folds case itself.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg

USER_COLUMNS = (
    "user_id, email, name, timezone, birth_year, sex, weight_kg, max_hr, resting_hr, preferences,"
    " created_at, updated_at"
)
DEVICE_COLUMNS = "device_id, user_id, kind, external_id, name, created_at, last_used_at"
PROFILE_FIELDS = ("name", "timezone", "birth_year", "sex", "weight_kg", "max_hr", "resting_hr")
DEVICE_TOUCH_AFTER = dt.timedelta(minutes=1)

Conn = psycopg.AsyncConnection[Any]  # rows are dicts (storage.postgres opens connections with dict_row)


class PgUsers:
    """services.ports.UserRepository: the `users` table."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def insert(
        self,
        user_id: uuid.UUID,
        email: str,
        email_key: str,
        password_hash: str,
        profile: Mapping[str, Any],
        preferences: Mapping[str, Any],
    ) -> bool:
        """Create a user; False (and nothing written) when the email's comparison form is taken."""
        fields = [profile.get(k) for k in PROFILE_FIELDS]
        cur = await self.conn.execute(
            f"INSERT INTO users (user_id, email, email_key, password_hash, {', '.join(PROFILE_FIELDS)}, preferences)"
            f" VALUES (%s, %s, %s, %s, {', '.join(['%s'] * len(PROFILE_FIELDS))}, %s)"
            " ON CONFLICT (email_key) DO NOTHING RETURNING user_id",
            (user_id, email, email_key, password_hash, *fields, json.dumps(dict(preferences))),
        )
        return await cur.fetchone() is not None

    async def get(self, user_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
        """A user's public row (no password hash), or None."""
        lock = " FOR UPDATE" if for_update else ""
        cur = await self.conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE user_id = %s{lock}", (user_id,))
        return await cur.fetchone()

    async def credentials(self, email_key: str) -> dict[str, Any] | None:
        """{user_id, password_hash} of the account with this comparison form of an email, or None."""
        cur = await self.conn.execute("SELECT user_id, password_hash FROM users WHERE email_key = %s", (email_key,))
        return await cur.fetchone()

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        """Replace a user's password hash (a rehash after the parameters changed)."""
        await self.conn.execute("UPDATE users SET password_hash = %s WHERE user_id = %s", (password_hash, user_id))

    async def update(
        self, user_id: uuid.UUID, changes: Mapping[str, Any], preferences: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Apply profile changes (None clears a field) and merge preference keys; returns the new public row."""
        unknown = set(changes) - set(PROFILE_FIELDS)
        if unknown:
            raise ValueError(f"not profile fields: {sorted(unknown)}")
        sets = [f"{name} = %s" for name in changes]
        params: list[Any] = list(changes.values())
        if preferences:
            sets.append("preferences = preferences || %s::jsonb")
            params.append(json.dumps(dict(preferences)))
        sets.append("updated_at = now()")
        cur = await self.conn.execute(
            f"UPDATE users SET {', '.join(sets)} WHERE user_id = %s RETURNING {USER_COLUMNS}", (*params, user_id)
        )
        row: dict[str, Any] | None = await cur.fetchone()
        assert row is not None, "update of a user the caller locked"
        return row

    async def erase(self, user_id: uuid.UUID) -> dict[str, Any] | None:
        """Delete the user and every row about them, inside the caller's transaction; returns {email_key} of the
        erased account, or None if there was none.

        Queued first, in the same transaction: the sample partitions of every activity of theirs (saved ones from
        `sample_buckets`, live ones from the batches their session recorded), for the purge queue to delete from
        Cassandra. Deleted: their outbox events (the caller emits `user_deleted` afterwards, which stays), then the
        user row, which cascades to sessions, refresh tokens, devices, activities (with sets, insights, live
        sessions and share links), goals and stats checkpoints."""
        cur = await self.conn.execute("SELECT email_key FROM users WHERE user_id = %s FOR UPDATE", (user_id,))
        row = await cur.fetchone()
        if row is None:
            return None
        await self.conn.execute(
            "INSERT INTO sample_purges (activity_id, buckets)"
            " SELECT activity_id, sample_buckets FROM activities"
            " WHERE user_id = %s AND cardinality(sample_buckets) > 0"
            " ON CONFLICT (activity_id) DO UPDATE SET buckets = ARRAY("
            "   SELECT DISTINCT b FROM unnest(sample_purges.buckets || EXCLUDED.buckets) AS b ORDER BY b)",
            (user_id,),
        )
        await self.conn.execute("DELETE FROM outbox WHERE user_id = %s", (user_id,))
        await self.conn.execute("DELETE FROM users WHERE user_id = %s", (user_id,))
        return {"email_key": row["email_key"]}


class PgLoginSessions:
    """services.ports.LoginSessionRepository: `auth_sessions` (a login) and `refresh_tokens` (its rotated family)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def create(self, user_id: uuid.UUID, refresh_hash: bytes, refresh_ttl_s: int) -> uuid.UUID:
        """A new login session with its first refresh token; returns the session id."""
        session_id = uuid.uuid4()
        await self.conn.execute(
            "INSERT INTO auth_sessions (session_id, user_id) VALUES (%s, %s)", (session_id, user_id)
        )
        await self.add_refresh(session_id, user_id, refresh_hash, refresh_ttl_s)
        return session_id

    async def add_refresh(self, session_id: uuid.UUID, user_id: uuid.UUID, refresh_hash: bytes, ttl_s: int) -> None:
        """Store a refresh token's hash in a session's family."""
        await self.conn.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)"
            " VALUES (%s, %s, %s, now() + make_interval(secs => %s))",
            (refresh_hash, session_id, user_id, ttl_s),
        )

    async def lock_refresh(self, refresh_hash: bytes) -> dict[str, Any] | None:
        """{session_id, user_id, used_at, expired, revoked_at} of a refresh token, locked with its session until
        the transaction ends; None if unknown."""
        cur = await self.conn.execute(
            "SELECT t.session_id, t.user_id, t.used_at, t.expires_at <= now() AS expired, s.revoked_at"
            " FROM refresh_tokens t JOIN auth_sessions s USING (session_id)"
            " WHERE t.token_hash = %s FOR UPDATE OF t, s",
            (refresh_hash,),
        )
        return await cur.fetchone()

    async def mark_refresh_used(self, refresh_hash: bytes) -> None:
        """Consume a refresh token (it can never be used again)."""
        await self.conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = %s", (refresh_hash,))

    async def revoke(self, session_id: uuid.UUID, reason: str) -> None:
        """Revoke a session (the first reason wins): its refresh tokens and access tokens stop working."""
        await self.conn.execute(
            "UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now()),"
            " revoke_reason = coalesce(revoke_reason, %s) WHERE session_id = %s",
            (reason, session_id),
        )

    async def state(self, session_id: uuid.UUID, user_id: uuid.UUID) -> bool | None:
        """True if the session is active, False if revoked, None if it does not exist (or is another user's)."""
        cur = await self.conn.execute(
            "SELECT revoked_at FROM auth_sessions WHERE session_id = %s AND user_id = %s", (session_id, user_id)
        )
        row = await cur.fetchone()
        return None if row is None else row["revoked_at"] is None


class PgDevices:
    """services.ports.DeviceRepository: `devices`, each with a revocable upload token stored as a hash."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def insert(
        self, user_id: uuid.UUID, kind: str, external_id: str | None, name: str | None, token_hash: bytes
    ) -> dict[str, Any]:
        """Link a device to a user; returns its public row."""
        cur = await self.conn.execute(
            "INSERT INTO devices (device_id, user_id, kind, external_id, name, token_hash)"
            f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {DEVICE_COLUMNS}",
            (uuid.uuid4(), user_id, kind, external_id, name, token_hash),
        )
        row: dict[str, Any] | None = await cur.fetchone()
        assert row is not None
        return row

    async def list(self, user_id: uuid.UUID) -> list[dict[str, Any]]:
        """A user's linked (not revoked) devices, oldest first."""
        cur = await self.conn.execute(
            f"SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = %s AND revoked_at IS NULL"
            " ORDER BY created_at, device_id",
            (user_id,),
        )
        return await cur.fetchall()

    async def get(self, user_id: uuid.UUID, device_id: uuid.UUID) -> dict[str, Any] | None:
        """One of a user's linked devices, or None (also for another user's device)."""
        cur = await self.conn.execute(
            f"SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = %s AND user_id = %s AND revoked_at IS NULL",
            (device_id, user_id),
        )
        return await cur.fetchone()

    async def revoke(self, user_id: uuid.UUID, device_id: uuid.UUID) -> bool:
        """Unlink a device: its token stops working at once; False if it was not a linked device of this user."""
        cur = await self.conn.execute(
            "UPDATE devices SET revoked_at = now() WHERE device_id = %s AND user_id = %s AND revoked_at IS NULL"
            " RETURNING device_id",
            (device_id, user_id),
        )
        return await cur.fetchone() is not None

    async def by_token(self, token_hash: bytes) -> dict[str, Any] | None:
        """{device_id, user_id} of the linked device owning a token; its last_used_at is refreshed at most once
        a minute (so a busy device does not write on every upload)."""
        cur = await self.conn.execute(
            "SELECT device_id, user_id, last_used_at FROM devices WHERE token_hash = %s AND revoked_at IS NULL",
            (token_hash,),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        if row["last_used_at"] is None or row["last_used_at"] < dt.datetime.now(dt.UTC) - DEVICE_TOUCH_AFTER:
            await self.conn.execute("UPDATE devices SET last_used_at = now() WHERE device_id = %s", (row["device_id"],))
        return {"device_id": row["device_id"], "user_id": row["user_id"]}
