"""Builders for progress tests: facts at local wall-clock times, and a tiny event driver."""

from __future__ import annotations

from datetime import datetime
from itertools import count
from zoneinfo import ZoneInfo

from domain.progress import ActivityFact, UserStats

_ids = count(1)


def at(y: int, mo: int, d: int, h: int = 12, mi: int = 0, tz: str = "UTC") -> datetime:
    """An aware datetime at that wall-clock time in tz."""
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz))


def run(aid: str, when: datetime, km: float = 5.0, **kw) -> ActivityFact:
    """A running fact of `km` kilometres (other fields by keyword)."""
    return ActivityFact(aid, kw.pop("sport", "running"), when, distance_m=km * 1000, **kw)


def create(s: UserStats, f: ActivityFact) -> list[dict]:
    """Apply a created event with a fresh event id."""
    return s.apply(f"ev{next(_ids)}", "created", f, f.activity_id)


def update(s: UserStats, f: ActivityFact) -> list[dict]:
    """Apply an updated event with a fresh event id."""
    return s.apply(f"ev{next(_ids)}", "updated", f, f.activity_id)


def delete(s: UserStats, aid: str) -> list[dict]:
    """Apply a deleted event with a fresh event id."""
    return s.apply(f"ev{next(_ids)}", "deleted", None, aid)


def of_type(events: list[dict], kind: str) -> list[dict]:
    """Events of one type."""
    return [e for e in events if e["type"] == kind]
