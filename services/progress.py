"""Progress use cases: stats, records, progress series and goals of one user.

Reads: the user's StatsShard holds the numbers; a cache (Redis) holds each answer as ready JSON bytes with its
entity tag, filed under the user's cache version (bumped by the shard on every change), so a cached read is one
cache round trip and no serialisation, and a client holding the tag gets `not modified`. The cache being down
costs nothing but speed: reads go to the shard.

Goals: definitions live in Postgres; a change commits together with a `goals_changed` event (the stats consumer
re-reads the goals, at least once), then the shard is asked to reload at once so the answer shows the goal's
progress. If the shard is momentarily unreachable the change still stands (the event brings the shard up to date)
and the answer carries the definition without progress.

Bounds (every bad range is `Invalid`, a full goal list `Conflict`): goals start within `goal_start_within_days` of
today and end at most `goal_max_span_days` after they start; a user has at most `max_goals_per_user`; a progress
series spans at most `progress_max_span_days`, between `earliest` and `latest`; a goal's history shows at most its
last `domain.progress.goals.HISTORY_PERIODS` periods.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from domain.errors import Conflict, Invalid, NotFound, Unavailable
from domain.progress.goals import GOAL_PERIODS, GOAL_TYPES
from domain.progress.user_stats import PROGRESS_METRICS
from services.documents import Document
from services.ports import Row, StatsCache, StatsShards, UnitOfWorkFactory

log = logging.getLogger("stride.progress")

PROGRESS_PERIODS = ("weekly", "monthly")
GOAL_FIELDS = ("goal_type", "target_value", "sport", "start_date", "end_date")


@dataclass(frozen=True)
class ProgressLimits:
    """Bounds on goals and progress ranges (settings: max_goals_per_user, goal_*, progress_max_span_days)."""

    max_goals_per_user: int = 100
    goal_start_within_days: int = 5 * 366
    goal_max_span_days: int = 3653
    progress_max_span_days: int = 3653
    earliest: dt.date = dt.date(1900, 1, 1)
    latest: dt.date = dt.date(2199, 12, 31)


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class ProgressService:
    """Stats, records, progress and goals of a user."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        stats: StatsShards,
        cache: StatsCache,
        limits: ProgressLimits = ProgressLimits(),
        today: Callable[[], dt.date] = _utc_today,
    ) -> None:
        self.uow = uow
        self.stats_shards = stats
        self.cache = cache
        self.limits = limits
        self.today = today

    # ------------------------------------------------------------------ reads

    async def stats(self, user_id: uuid.UUID) -> Document:
        """ytd_distance, lifetime_workouts, totals, streaks, records, training load, latest insights."""
        return await self._read(user_id, "stats")

    async def records(self, user_id: uuid.UUID) -> Document:
        """Personal records with their history."""
        return await self._read(user_id, "records")

    async def goals(self, user_id: uuid.UUID) -> Document:
        """Every goal with its current period and its (bounded) history."""
        return await self._read(user_id, "goals")

    async def progress(
        self,
        user_id: uuid.UUID,
        metric: str = "distance",
        period: str = "weekly",
        sport: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> Document:
        """A zero-filled series of one metric per week or month between `start` and `end` (bounded)."""
        self._check_progress(metric, period, start, end)
        params = {"metric": metric, "period": period, "sport": sport, "start": start, "end": end}
        return await self._read(
            user_id,
            "progress",
            params,
            shape=lambda series: {"metric": metric, "period": period, "sport": sport, "series": series},
        )

    async def _read(
        self, user_id: uuid.UUID, what: str, params: Row | None = None, shape: Callable[[Any], Any] | None = None
    ) -> Document:
        key = _params_key(params)
        version: str | None = None
        try:
            version, raw = await self.cache.get(user_id, what, key)
            if raw is not None:
                return Document.unpack(raw)
        except Unavailable as exc:
            log.debug("stats cache skipped: %s", exc)
        value = await self.stats_shards.read(user_id, what, params)
        doc = Document.of(shape(value) if shape else value)
        if version is not None:
            try:
                await self.cache.put(user_id, what, key, version, doc.pack())
            except Unavailable as exc:
                log.debug("stats cache not filled: %s", exc)
        return doc

    def _check_progress(self, metric: str, period: str, start: dt.date | None, end: dt.date | None) -> None:
        lim = self.limits
        if metric not in PROGRESS_METRICS:
            raise Invalid.field("metric", f"one of {', '.join(PROGRESS_METRICS)}")
        if period not in PROGRESS_PERIODS:
            raise Invalid.field("period", f"one of {', '.join(PROGRESS_PERIODS)}")
        for name, value in (("from", start), ("to", end)):
            if value is not None and not lim.earliest <= value <= lim.latest:
                raise Invalid.field(name, f"must be between {lim.earliest} and {lim.latest}")
        if start is not None and end is not None and start > end:
            raise Invalid.field("from", "must not be after `to`")
        if start is not None and ((end or self.today()) - start).days > lim.progress_max_span_days:
            raise Invalid.field("from", f"the range may span at most {lim.progress_max_span_days} days")

    # ------------------------------------------------------------------ goals

    async def create_goal(self, user_id: uuid.UUID, goal: Mapping[str, Any]) -> Row:
        """A target per week, month or year (optionally for one sport); returns its read shape."""
        goal_id = uuid.uuid4()
        row = {"goal_id": goal_id, "user_id": user_id, **{k: goal.get(k) for k in GOAL_FIELDS}}
        self._check_goal(row, new_start=True)
        async with self.uow() as uow:
            if await uow.goals.count_locked(user_id) >= self.limits.max_goals_per_user:
                raise Conflict(
                    f"a user may have at most {self.limits.max_goals_per_user} goals",
                    code="goal_limit_reached",
                    details={"max": self.limits.max_goals_per_user},
                )
            await uow.goals.insert(row)
            uow.emit("goals_changed", user_id, goal_id)
            await uow.commit()
        return await self._goal_view(user_id, row)

    async def update_goal(self, user_id: uuid.UUID, goal_id: uuid.UUID, changes: Mapping[str, Any]) -> Row:
        """Change a goal's type, target, dates or sport; NotFound for someone else's."""
        unknown = sorted(set(changes) - set(GOAL_FIELDS))
        if unknown:
            raise Invalid.field(unknown[0], "cannot be changed")
        async with self.uow() as uow:
            row = await uow.goals.get(goal_id, user_id)
            if row is None:
                raise NotFound("goal")
            merged = {**row, **changes}
            self._check_goal(merged, new_start="start_date" in changes and changes["start_date"] != row["start_date"])
            if changes:
                await uow.goals.update(goal_id, dict(changes))
                uow.emit("goals_changed", user_id, goal_id)
                await uow.commit()
        return await self._goal_view(user_id, merged)

    async def delete_goal(self, user_id: uuid.UUID, goal_id: uuid.UUID) -> None:
        """Delete a goal; NotFound for someone else's."""
        async with self.uow() as uow:
            if await uow.goals.get(goal_id, user_id) is None:
                raise NotFound("goal")
            await uow.goals.delete(goal_id)
            uow.emit("goals_changed", user_id, goal_id)
            await uow.commit()
        try:
            await self.stats_shards.reload_goals(user_id)
        except Unavailable as exc:
            log.warning("goals of %s reload later (outbox): %s", user_id, exc)

    def _check_goal(self, row: Mapping[str, Any], *, new_start: bool) -> None:
        lim = self.limits
        kind, target = row.get("goal_type"), row.get("target_value")
        start, end = row.get("start_date"), row.get("end_date")
        if kind not in GOAL_TYPES:
            raise Invalid.field("goal_type", f"one of {', '.join(GOAL_TYPES)}")
        if not isinstance(target, (int, float)) or not 0 < float(target) <= 1e9:
            raise Invalid.field("target_value", "must be a number above 0 and at most 1e9")
        if not isinstance(start, dt.date):
            raise Invalid.field("start_date", "a date is required")
        if end is not None and not isinstance(end, dt.date):
            raise Invalid.field("end_date", "must be a date")
        if new_start and abs((start - self.today()).days) > lim.goal_start_within_days:
            raise Invalid.field("start_date", f"must be within {lim.goal_start_within_days} days of today")
        if end is not None and end < start:
            raise Invalid.field("end_date", "must not be before start_date")
        if end is not None and (end - start).days > lim.goal_max_span_days:
            raise Invalid.field("end_date", f"may be at most {lim.goal_max_span_days} days after start_date")

    async def _goal_view(self, user_id: uuid.UUID, row: Mapping[str, Any]) -> Row:
        """The goal's read shape from its shard, after asking the shard to reload the user's goals; the bare
        definition (no progress) if the shard cannot be reached now."""
        goal_id = str(row["goal_id"])
        try:
            await self.stats_shards.reload_goals(user_id)
            views = await self.stats_shards.read(user_id, "goals")
            for view in views:
                if view["goal_id"] == goal_id:
                    return dict(view)
        except Unavailable as exc:
            log.warning("goal %s saved; its progress is not available yet: %s", goal_id, exc)
        kind = str(row["goal_type"])
        return {
            "goal_id": goal_id,
            "goal_type": kind,
            "sport": row.get("sport"),
            "target_value": float(row["target_value"]),
            "period": GOAL_PERIODS[kind.split("_", 1)[0]],
            "start_date": row["start_date"],
            "end_date": row.get("end_date"),
            "current_period_progress": None,
            "current_period_start": None,
            "current_period_end": None,
            "achieved": None,
            "history": [],
        }


def _params_key(params: Row | None) -> str:
    """A short, stable digest of a read's parameters ('-' for none)."""
    if not params:
        return "-"
    raw = orjson.dumps(params, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(raw, digest_size=10).hexdigest()
