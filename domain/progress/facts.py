"""ActivityFact: the slice of an activity that stats need, and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class ActivityFact:
    """What stats need of one activity (built by the caller from the Postgres summary row)."""

    activity_id: str
    sport: str
    start_time: datetime  # aware; a naive value is read as UTC
    distance_m: float = 0.0
    moving_s: float = 0.0
    elapsed_s: float = 0.0
    elevation_gain_m: float = 0.0
    calories: float = 0.0
    volume_kg: float = 0.0
    hr_avg: float | None = None
    best_efforts: tuple[tuple[str, float], ...] = ()  # (name, elapsed_s); "*_power" names hold watts
    one_rm: tuple[tuple[str, float], ...] = ()  # (exercise, kg)
    revision: int = 0  # a created/updated fact older than the stored one (lower revision) is ignored

    @property
    def duration_s(self) -> float:
        """Moving time, else elapsed time (manual entries may carry only one)."""
        return float(self.moving_s or self.elapsed_s or 0.0)

    def utc_start(self) -> datetime:
        """Start time as an aware UTC datetime."""
        st = self.start_time
        return st.replace(tzinfo=UTC) if st.tzinfo is None else st.astimezone(UTC)

    def local_date(self, tz: ZoneInfo) -> date:
        """Calendar day of the start in the user's timezone."""
        return self.utc_start().astimezone(tz).date()

    @cached_property
    def _order(self) -> tuple[float, str]:
        """Cached sort key (a frozen dataclass's __dict__ may still hold caches)."""
        return (self.utc_start().timestamp(), self.activity_id)

    def sort_key(self) -> tuple[float, str]:
        """Chronological order: start instant, then activity id for ties."""
        return self._order


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ActivityFact))


def fact_to_dict(fact: ActivityFact) -> dict[str, Any]:
    """JSON-able dict of a fact (ISO start time, lists for pairs)."""
    d = {name: getattr(fact, name) for name in FIELD_NAMES}
    d["start_time"] = fact.utc_start().isoformat()
    d["best_efforts"] = [list(p) for p in fact.best_efforts]
    d["one_rm"] = [list(p) for p in fact.one_rm]
    return d


def fact_from_dict(d: dict[str, Any]) -> ActivityFact:
    """Inverse of fact_to_dict (unknown keys are ignored)."""
    kw = {k: v for k, v in d.items() if k in FIELD_NAMES}
    kw["start_time"] = datetime.fromisoformat(d["start_time"])
    kw["best_efforts"] = tuple((str(n), float(v)) for n, v in d.get("best_efforts", ()))
    kw["one_rm"] = tuple((str(n), float(v)) for n, v in d.get("one_rm", ()))
    return ActivityFact(**kw)
