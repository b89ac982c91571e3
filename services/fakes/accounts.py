"""Fakes for the accounts ports: users, login sessions, devices (over the unit of work's tables) and the Redis side
(session states, token buckets, revocations, user keys) in one in-memory FakeAuthState.

Tables: "users" {user_id: row (public columns + email_key, password_hash)}, "auth_sessions" {session_id: {user_id,
revoked_at, revoke_reason}}, "refresh_tokens" {hash: {session_id, user_id, used_at, expires_at}}, "devices"
{device_id: row (+ token_hash, revoked_at)}.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from domain.errors import Unavailable
from domain.ratelimit import Bucket, BucketResult
from services.compute import inline
from services.passwords import Passwords

PUBLIC = (
    "user_id",
    "email",
    "name",
    "timezone",
    "birth_year",
    "sex",
    "weight_kg",
    "max_hr",
    "resting_hr",
    "preferences",
    "created_at",
    "updated_at",
)
DEVICE_PUBLIC = ("device_id", "user_id", "kind", "external_id", "name", "created_at", "last_used_at")
ACCOUNT_TABLES = ("users", "auth_sessions", "refresh_tokens", "devices")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _tables(tables: dict[str, Any]) -> dict[str, Any]:
    for name in ACCOUNT_TABLES:
        tables.setdefault(name, {})
    return tables


class FakeUsers:
    """services.ports.UserRepository."""

    def __init__(self, tables: dict[str, Any]) -> None:
        self.t = _tables(tables)

    async def insert(
        self,
        user_id: uuid.UUID,
        email: str,
        email_key: str,
        password_hash: str,
        profile: Mapping[str, Any],
        preferences: Mapping[str, Any],
    ) -> bool:
        if any(u.get("email_key") == email_key for u in self.t["users"].values()):
            return False
        now = _now()
        prefs = {"units": "metric", "week_start": "monday", "default_visibility": "private", **preferences}
        self.t["users"][user_id] = {
            "user_id": user_id,
            "email": email,
            "email_key": email_key,
            "password_hash": password_hash,
            "preferences": prefs,
            "created_at": now,
            "updated_at": now,
            **{k: profile.get(k) for k in PUBLIC if k in profile},
        }
        for k in PUBLIC:
            self.t["users"][user_id].setdefault(k, None)
        return True

    async def get(self, user_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
        row = self.t["users"].get(user_id)
        return {k: row[k] for k in PUBLIC} if row is not None and "email_key" in row else None

    async def credentials(self, email_key: str) -> dict[str, Any] | None:
        for row in self.t["users"].values():
            if row.get("email_key") == email_key:
                return {"user_id": row["user_id"], "password_hash": row["password_hash"]}
        return None

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        self.t["users"][user_id]["password_hash"] = password_hash

    async def update(
        self, user_id: uuid.UUID, changes: Mapping[str, Any], preferences: Mapping[str, Any]
    ) -> dict[str, Any]:
        row = self.t["users"][user_id]
        row.update(changes)
        row["preferences"] = {**row["preferences"], **preferences}
        row["updated_at"] = _now()
        return {k: row[k] for k in PUBLIC}

    async def erase(self, user_id: uuid.UUID) -> dict[str, Any] | None:
        row = self.t["users"].pop(user_id, None)
        if row is None:
            return None
        for activity_id, activity in list(self.t.get("activities", {}).items()):
            if activity["user_id"] != user_id:
                continue
            if activity.get("sample_buckets"):
                queued = self.t["sample_purges"].get(activity_id, [])
                self.t["sample_purges"][activity_id] = sorted({*queued, *activity["sample_buckets"]})
            del self.t["activities"][activity_id]
            for table in ("strength_sets", "insights", "live_sessions", "live_shares"):
                self.t.get(table, {}).pop(activity_id, None)
        self.t["outbox"] = [e for e in self.t["outbox"] if e.user_id != user_id]
        for table in ("auth_sessions", "refresh_tokens", "devices", "goals"):
            for key, value in list(self.t.get(table, {}).items()):
                if value.get("user_id") == user_id:
                    del self.t[table][key]
        self.t.get("user_stats", {}).pop(user_id, None)
        return {"email_key": row["email_key"]}


class FakeLoginSessions:
    """services.ports.LoginSessionRepository."""

    def __init__(self, tables: dict[str, Any]) -> None:
        self.t = _tables(tables)

    async def create(self, user_id: uuid.UUID, refresh_hash: bytes, refresh_ttl_s: int) -> uuid.UUID:
        session_id = uuid.uuid4()
        self.t["auth_sessions"][session_id] = {"user_id": user_id, "revoked_at": None, "revoke_reason": None}
        await self.add_refresh(session_id, user_id, refresh_hash, refresh_ttl_s)
        return session_id

    async def add_refresh(self, session_id: uuid.UUID, user_id: uuid.UUID, refresh_hash: bytes, ttl_s: int) -> None:
        self.t["refresh_tokens"][refresh_hash] = {
            "session_id": session_id,
            "user_id": user_id,
            "used_at": None,
            "expires_at": _now() + dt.timedelta(seconds=ttl_s),
        }

    async def lock_refresh(self, refresh_hash: bytes) -> dict[str, Any] | None:
        token = self.t["refresh_tokens"].get(refresh_hash)
        if token is None:
            return None
        session = self.t["auth_sessions"][token["session_id"]]
        return {
            "session_id": token["session_id"],
            "user_id": token["user_id"],
            "used_at": token["used_at"],
            "expired": token["expires_at"] <= _now(),
            "revoked_at": session["revoked_at"],
        }

    async def mark_refresh_used(self, refresh_hash: bytes) -> None:
        self.t["refresh_tokens"][refresh_hash]["used_at"] = _now()

    async def revoke(self, session_id: uuid.UUID, reason: str) -> None:
        session = self.t["auth_sessions"].get(session_id)
        if session is not None and session["revoked_at"] is None:
            session.update(revoked_at=_now(), revoke_reason=reason)

    async def state(self, session_id: uuid.UUID, user_id: uuid.UUID) -> bool | None:
        session = self.t["auth_sessions"].get(session_id)
        if session is None or session["user_id"] != user_id:
            return None
        return session["revoked_at"] is None


class FakeDevices:
    """services.ports.DeviceRepository."""

    def __init__(self, tables: dict[str, Any]) -> None:
        self.t = _tables(tables)

    async def insert(
        self, user_id: uuid.UUID, kind: str, external_id: str | None, name: str | None, token_hash: bytes
    ) -> dict[str, Any]:
        device_id = uuid.uuid4()
        self.t["devices"][device_id] = {
            "device_id": device_id,
            "user_id": user_id,
            "kind": kind,
            "external_id": external_id,
            "name": name,
            "created_at": _now(),
            "last_used_at": None,
            "token_hash": token_hash,
            "revoked_at": None,
        }
        return {k: self.t["devices"][device_id][k] for k in DEVICE_PUBLIC}

    async def list(self, user_id: uuid.UUID) -> list[dict[str, Any]]:
        return [
            {k: d[k] for k in DEVICE_PUBLIC}
            for d in self.t["devices"].values()
            if d["user_id"] == user_id and d["revoked_at"] is None
        ]

    async def get(self, user_id: uuid.UUID, device_id: uuid.UUID) -> dict[str, Any] | None:
        d = self.t["devices"].get(device_id)
        if d is None or d["user_id"] != user_id or d["revoked_at"] is not None:
            return None
        return {k: d[k] for k in DEVICE_PUBLIC}

    async def revoke(self, user_id: uuid.UUID, device_id: uuid.UUID) -> bool:
        if await self.get(user_id, device_id) is None:
            return False
        self.t["devices"][device_id]["revoked_at"] = _now()
        return True

    async def by_token(self, token_hash: bytes) -> dict[str, Any] | None:
        for d in self.t["devices"].values():
            if d["token_hash"] == token_hash and d["revoked_at"] is None:
                d["last_used_at"] = _now()
                return {"device_id": d["device_id"], "user_id": d["user_id"]}
        return None


class FakeAuthState:
    """RateLimiter, SessionGate, Revocations and UserKeys in memory, with the real script's semantics.

    `keys` is the fake Redis ({key: value}); buckets refill on `now` (seconds, tests step it); `round_trips` counts
    calls (one per port call, as each real one is one round trip); `published` holds revocation messages;
    `down = True` makes every call raise Unavailable('redis')."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.now = 0.0
        self.round_trips = 0
        self.published: list[dict[str, Any]] = []
        self.down = False

    def _trip(self) -> None:
        if self.down:
            raise Unavailable("redis", "fake outage")
        self.round_trips += 1

    def _bucket(self, b: Bucket, take: bool) -> BucketResult:
        tokens, ts = self.keys.get(b.key, (float(b.capacity), self.now))
        tokens = min(b.capacity, tokens + max(0.0, self.now - ts) * b.rate)
        allowed = tokens >= b.cost
        retry_ms = 0 if allowed else math.ceil((b.cost - tokens) * 1000 / b.rate)
        if allowed and take:
            tokens -= b.cost
        self.keys[b.key] = (tokens, self.now)
        return BucketResult.of(allowed, b.capacity, tokens, retry_ms, math.ceil((b.capacity - tokens) * 1000 / b.rate))

    @staticmethod
    def session_key(user_id: uuid.UUID, session_id: uuid.UUID) -> str:
        return f"u:{user_id}:sess:{session_id}"

    async def take(self, buckets: Sequence[Bucket]) -> list[BucketResult]:
        self._trip()
        saved = {b.key: self.keys.get(b.key) for b in buckets}
        ok = all(self._bucket(b, take=False).allowed for b in buckets)
        for key, value in saved.items():
            if value is None:
                self.keys.pop(key, None)
            else:
                self.keys[key] = value
        return [self._bucket(b, take=ok) for b in buckets]

    async def check(
        self, user_id: uuid.UUID, session_id: uuid.UUID, bucket: Bucket, *, mark_active_s: int = 0
    ) -> tuple[str | None, BucketResult | None]:
        self._trip()
        key = self.session_key(user_id, session_id)
        if mark_active_s > 0:
            self.keys[key] = "1"
        state = {"1": "active", "0": "revoked"}.get(self.keys.get(key, ""))
        if state != "active":
            return state, None
        return state, self._bucket(bucket, take=True)

    async def state(self, user_id: uuid.UUID, session_id: uuid.UUID) -> str | None:
        self._trip()
        return {"1": "active", "0": "revoked"}.get(self.keys.get(self.session_key(user_id, session_id), ""))

    async def mark_active(self, user_id: uuid.UUID, session_id: uuid.UUID, ttl_s: int) -> None:
        self._trip()
        self.keys[self.session_key(user_id, session_id)] = "1"

    async def mark_revoked(self, user_id: uuid.UUID, session_id: uuid.UUID, ttl_s: int) -> None:
        self._trip()
        self.keys[self.session_key(user_id, session_id)] = "0"

    async def revoke(self, user_id: uuid.UUID, session_id: uuid.UUID | None, reason: str, ttl_s: int) -> None:
        self._trip()
        if session_id is not None:
            self.keys[self.session_key(user_id, session_id)] = "0"
        self.published.append(
            {"user_id": str(user_id), "session_id": str(session_id) if session_id else None, "reason": reason}
        )

    async def purge(self, user_id: uuid.UUID, extra_keys: Sequence[str] = ()) -> int:
        self._trip()
        doomed = [k for k in self.keys if k.startswith(f"u:{user_id}:") or k in extra_keys]
        for k in doomed:
            del self.keys[k]
        return len(doomed)


class CountingPasswords(Passwords):
    """Real argon2id with the cheapest parameters, run inline, counting the hashes made (`hashes`)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_kib=8, parallelism=1, offload=inline)
        self.hashes = 0

    async def hash(self, password: str) -> str:
        self.hashes += 1
        return await super().hash(password)
