"""Fakes for the live ports: the live repository (over the unit of work's tables) and the live feed."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FakeLive:
    """services.ports.LiveRepository over the unit of work's private tables (`activities`, `live_sessions`,
    `live_shares`). Deleting the activity row (FakeActivities.delete) hides its session and shares, like the
    real ON DELETE CASCADE."""

    def __init__(self, tables: dict[str, Any]) -> None:
        self.t = tables

    def _live_row(self, activity_id: uuid.UUID) -> dict[str, Any] | None:
        row = self.t["activities"].get(activity_id)
        if row is None or row["status"] != "live" or activity_id not in self.t["live_sessions"]:
            return None
        return dict(row)

    async def create(
        self, activity_id: uuid.UUID, user_id: uuid.UUID, sport: str, start_time: dt.datetime, client_id: str | None
    ) -> bool:
        activities = self.t["activities"]
        if activity_id in activities or (
            client_id and any(r["user_id"] == user_id and r.get("client_id") == client_id for r in activities.values())
        ):
            return False
        now = _now()
        activities[activity_id] = {
            "activity_id": activity_id,
            "user_id": user_id,
            "client_id": client_id,
            "status": "live",
            "type": sport,
            "start_time": start_time,
            "request_hash": "live",
            "sample_buckets": [0],
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "name": None,
        }
        self.t["live_sessions"][activity_id] = {"user_id": user_id, "pauses": [], "last_seen_at": now}
        return True

    async def get(self, activity_id: uuid.UUID) -> dict[str, Any] | None:
        row = self._live_row(activity_id)
        if row is None:
            return None
        session = self.t["live_sessions"][activity_id]
        return {
            "activity_id": activity_id,
            "user_id": row["user_id"],
            "type": row["type"],
            "start_time": row["start_time"],
            "sample_buckets": list(row["sample_buckets"]),
            "pauses": [dict(p) for p in session["pauses"]],
            "last_seen_at": session["last_seen_at"],
        }

    async def save_pauses(self, activity_id: uuid.UUID, pauses: Sequence[dict[str, Any]]) -> None:
        session = self.t["live_sessions"].get(activity_id)
        if session is not None:
            session["pauses"] = [dict(p) for p in pauses]
            session["last_seen_at"] = _now()

    async def record_buckets(self, activity_id: uuid.UUID, buckets: Sequence[int]) -> None:
        row = self.t["activities"].get(activity_id)
        if row is not None and row["status"] == "live":
            row["sample_buckets"] = sorted(set(row["sample_buckets"]) | set(buckets))

    async def touch(self, activity_ids: Sequence[uuid.UUID]) -> None:
        for activity_id in activity_ids:
            if activity_id in self.t["live_sessions"]:
                self.t["live_sessions"][activity_id]["last_seen_at"] = _now()

    async def idle(self, idle_s: float, limit: int = 100) -> list[dict[str, Any]]:
        cutoff = _now() - dt.timedelta(seconds=idle_s)
        rows = sorted(
            (
                (s["last_seen_at"], a, s["user_id"])
                for a, s in self.t["live_sessions"].items()
                if s["last_seen_at"] < cutoff and self._live_row(a) is not None
            ),
            key=lambda r: r[0],
        )
        return [{"activity_id": a, "user_id": u} for _, a, u in rows[:limit]]

    async def end(self, activity_id: uuid.UUID) -> None:
        for share in self.t["live_shares"].values():
            if share["activity_id"] == activity_id and share["revoked_at"] is None:
                share["revoked_at"] = _now()
        self.t["live_sessions"].pop(activity_id, None)

    async def create_share(self, activity_id: uuid.UUID, user_id: uuid.UUID, token_hash: bytes) -> dict[str, Any]:
        share_id = uuid.uuid4()
        self.t["live_shares"][share_id] = {
            "share_id": share_id,
            "activity_id": activity_id,
            "user_id": user_id,
            "token_hash": token_hash,
            "created_at": _now(),
            "revoked_at": None,
        }
        return {"share_id": share_id, "created_at": self.t["live_shares"][share_id]["created_at"]}

    async def revoke_share(self, activity_id: uuid.UUID, share_id: uuid.UUID) -> bool:
        share = self.t["live_shares"].get(share_id)
        if share is None or share["activity_id"] != activity_id:
            return False
        share["revoked_at"] = share["revoked_at"] or _now()
        return True

    async def share_target(self, token_hash: bytes) -> dict[str, Any] | None:
        for share in self.t["live_shares"].values():
            if (
                share["token_hash"] == token_hash
                and share["revoked_at"] is None
                and self._live_row(share["activity_id"]) is not None
            ):
                return {"share_id": share["share_id"], "activity_id": share["activity_id"], "user_id": share["user_id"]}
        return None


class FakeLiveFeed:
    """services.ports.LiveFeed in memory: the latest metrics per workout, every message published per channel,
    and the revocations announced. `down = True` makes every call a silent no-op (the real feed is best effort)."""

    def __init__(self) -> None:
        self.latest_metrics: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = {}
        self.messages: dict[uuid.UUID, list[dict[str, Any]]] = {}
        self.revocations: list[dict[str, Any]] = []
        self.down = False

    async def latest(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> dict[str, Any] | None:
        if self.down:
            return None
        cached = self.latest_metrics.get((user_id, activity_id))
        return {k: v for k, v in cached.items() if k != "type"} if cached is not None else None

    async def publish(self, user_id: uuid.UUID, activity_id: uuid.UUID, message: dict[str, Any]) -> None:
        if self.down:
            return
        self.latest_metrics[(user_id, activity_id)] = dict(message)
        self.messages.setdefault(activity_id, []).append(dict(message))

    async def announce_end(self, user_id: uuid.UUID, activity_id: uuid.UUID, how: str) -> None:
        if self.down:
            return
        self.latest_metrics.pop((user_id, activity_id), None)
        self.messages.setdefault(activity_id, []).append({"type": how, "activity_id": str(activity_id)})

    async def announce_share_revoked(self, share_id: uuid.UUID, activity_id: uuid.UUID) -> None:
        if self.down:
            return
        self.revocations.append({"share_id": str(share_id), "activity_id": str(activity_id), "reason": "share_revoked"})
