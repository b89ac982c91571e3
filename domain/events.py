"""The event catalogue: every event type Stride writes to its outbox, who produces it, who consumes it, and what
its payload carries. The one place that says which consumer takes which event (`SUBSCRIPTIONS`): the unit of work
writes one pending delivery per subscribed consumer next to each outbox row, and the dispatcher delivers them.

| event type         | producer                                   | consumers | payload (read by)                     |
|--------------------|--------------------------------------------|-----------|---------------------------------------|
| `activity_created` | services.activities (upload), live finish  | stats     | none: stats reads the current row     |
| `activity_updated` | services.activities (edit)                 | stats     | none: stats reads the current row     |
| `activity_deleted` | services.activities (delete, live discard) | stats     | none: the row is gone, that is it     |
| `user_updated`     | accounts (timezone or profile changed)     | stats     | none: stats reads the current user    |
| `user_deleted`     | accounts (erasure)                         | stats     | none: stats forgets the user          |
| `goals_changed`    | services.progress (goal create/edit/delete)| stats     | none: stats reads the user's goals    |
| `personal_record`  | stats (an activity became a record holder) | (none yet)| kept for the Notifier, see below  |
| `goal_achieved`    | stats (a goal period was met, once ever)   | (none yet)| kept for the Notifier, see below  |
| `streak`           | stats (a new day/week extends a run ≥ 2)   | (none yet)| kept for the Notifier, see below  |

Payloads kept (each also carries `type` and `user_id`; the future Notifier reads them to word its messages):
- `personal_record`: category, sport, name, unit, value, activity_id, achieved_at, previous {value, activity_id,
  achieved_at} | null (domain.progress.records.record_event);
- `goal_achieved`: goal_id, goal_type, sport, period_start, period_end, target_value, value, activity_id | null
  (domain.progress.goals.achieved_event);
- `streak`: period (daily | weekly), length, day, longest_ever (domain.progress.user_stats).

Ordering: a consumer gets each event at least once, in no guaranteed order (transactions commit out of `seq`
order, and a failed delivery is retried later while newer events pass it). The stats consumer does not need order:
it is idempotent by event id, reads the activity's (user's, goals') current state rather than the event, and
ignores a fact whose revision is older than the one it holds. A future consumer that needs per-user order must
say so here and sort by `seq` within a user itself.

Events no consumer takes yet (`personal_record`, `goal_achieved`, `streak`) get no delivery rows: they are kept
for the retention period (for the Notifier's first run to read back, and for operators) and then pruned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EventType:
    """One event type of the catalogue."""

    name: str
    producer: str
    carries_payload: bool  # False: only the ids are written (consumers read the current state instead)


CATALOGUE: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType("activity_created", "services.activities, live finish", False),
        EventType("activity_updated", "services.activities", False),
        EventType("activity_deleted", "services.activities, live discard", False),
        EventType("user_updated", "accounts", False),
        EventType("user_deleted", "accounts (erasure)", False),
        EventType("goals_changed", "services.progress", False),
        EventType("personal_record", "stats", True),
        EventType("goal_achieved", "stats", True),
        EventType("streak", "stats", True),
    )
}

# consumer -> the event types it takes (the dispatcher has one delivery function per consumer named here)
SUBSCRIPTIONS: dict[str, frozenset[str]] = {
    "stats": frozenset(
        {"activity_created", "activity_updated", "activity_deleted", "user_updated", "user_deleted", "goals_changed"}
    ),
}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a delivery is retried before it becomes a dead letter."""

    max_attempts: int = 15
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0

    def delay_s(self, attempts: int) -> float:
        """The wait after the `attempts`-th failure: min(max, base·2^(attempts-1)) (storage runs it in SQL)."""
        return float(min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, attempts - 1)))


def consumers_of(event_type: str, subscriptions: Mapping[str, frozenset[str]] | None = None) -> list[str]:
    """The consumers that take an event type (sorted; empty when none does)."""
    subs = SUBSCRIPTIONS if subscriptions is None else subscriptions
    return sorted(c for c, types in subs.items() if event_type in types)


def outbox_payload(event_type: str, payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """What is written for an event's payload: all of it when a consumer reads it, nothing otherwise.
    ValueError for an event type missing from the catalogue (add it above, with its producer and consumers)."""
    spec = CATALOGUE.get(event_type)
    if spec is None:
        raise ValueError(f"event type {event_type!r} is not in the catalogue (domain/events.py)")
    return dict(payload or {}) if spec.carries_payload else {}
