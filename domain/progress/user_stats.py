"""UserStats: one user's totals, streaks, records, training load, goals and insights, kept incrementally.

Late uploads, edits and deletes all go through `apply`: the old version of the activity (if any) is subtracted and
the new one added, so what depends on it (its periods, its days, its record keys, its goal periods) is updated and
everything else is untouched. Streaks and training load are derived on read from the active days.

goal_achieved is announced at most once per (goal, period), ever: the (goal_id, period_start) pairs announced are
kept (also in the checkpoint); a delete that takes a period back under target and a later upload that reaches it
again do not announce it a second time. A late upload that completes a past period announces it then.
"""

from __future__ import annotations

from bisect import insort
from collections import OrderedDict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Literal

import numpy as np

from .facts import ActivityFact, fact_from_dict, fact_to_dict
from .goals import Goal, achieved_event, goal_from_dict, goal_to_dict, goal_view
from .insights import longest_this_month, record_insights, streak_extended, week_over_week
from .load import activity_load, athlete, training_load
from .periods import normalise_period, period_start, period_starts, shift_periods, zone
from .records import RecordBook
from .streaks import longest_run, run_through, streak_summary, week_index
from .totals import ALL, LIFETIME, METRICS, SCALE, PeriodTotals, fact_vector

SEEN_LIMIT = 10_000  # event ids remembered for idempotency (oldest forgotten first)
MAX_SERIES_POINTS = 5_000
PROGRESS_METRICS: dict[str, str] = {
    "distance": "distance_m",
    "duration": "moving_s",
    "count": "count",
    "elevation": "elevation_gain_m",
    "load": "load",
}
Kind = Literal["created", "updated", "deleted"]


class UserStats:
    """A user's stats, kept incrementally from activity_created/updated/deleted events."""

    def __init__(self, user_id: str, tz: str = "UTC", profile: dict[str, Any] | None = None) -> None:
        self.user_id = user_id
        self.tz, self._zone = tz, zone(tz)
        self.profile = dict(profile or {})
        self._who = athlete(self.profile)
        self._facts: dict[str, ActivityFact] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._goals: list[Goal] = []
        self._emitted: set[tuple[str, str]] = set()
        self._reset_derived()

    # ---- maintenance of derived state -------------------------------------------------------------------------

    def _reset_derived(self) -> None:
        """Empty every structure derived from the facts."""
        self._totals = PeriodTotals()
        self._book = RecordBook()
        self._by_day: dict[date, set[str]] = {}
        self._day_ords: list[int] = []  # sorted ordinals of the active local days
        self._day_of: dict[str, date] = {}
        self._load: dict[str, float] = {}

    def _put(self, fact: ActivityFact, sign: int) -> None:
        """Add (sign=1) or remove (sign=-1) a fact from totals and the day index (records are handled apart)."""
        aid = fact.activity_id
        if sign > 0:
            self._facts[aid], self._day_of[aid] = fact, fact.local_date(self._zone)
            self._load[aid] = activity_load(fact, self._who)
            if self._day_of[aid] not in self._by_day:
                insort(self._day_ords, self._day_of[aid].toordinal())
            self._by_day.setdefault(self._day_of[aid], set()).add(aid)
        day, load = self._day_of[aid], self._load[aid]
        self._totals.add(fact.sport, day, fact_vector(fact, load), sign)
        if sign < 0:
            self._by_day[day].discard(aid)
            if not self._by_day[day]:
                del self._by_day[day]
                self._day_ords.remove(day.toordinal())
            del self._facts[aid], self._day_of[aid], self._load[aid]

    def _rebuild(self, facts: Iterable[ActivityFact]) -> None:
        """Recompute every derived structure from scratch."""
        facts = sorted(facts, key=ActivityFact.sort_key)
        self._facts = {}
        self._reset_derived()
        for f in facts:
            self._put(f, 1)
        self._book.load(facts)

    # ---- events -----------------------------------------------------------------------------------------------

    def _remember(self, event_id: str) -> bool:
        """Record an event id; False when it was already seen."""
        if event_id in self._seen:
            return False
        self._seen[event_id] = None
        while len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    def apply(self, event_id: str, kind: Kind, fact: ActivityFact | None, activity_id: str) -> list[dict[str, Any]]:
        """Apply one activity event; idempotent by event_id (a seen id returns [] and changes nothing).

        created/updated upsert the fact (a lower revision than the stored one is stale and ignored); deleted
        removes it. Returns emitted events: personal_record, streak, goal_achieved (each with user_id)."""
        new = _checked(kind, fact, activity_id)
        if not self._remember(event_id):
            return []
        old = self._facts.get(activity_id)
        if (old is None and new is None) or (old and new and new.revision < old.revision):
            return []
        fresh_day, fresh_week = self._fresh_day_week(new)
        if old:
            self._put(old, -1)
        if new:
            self._put(new, 1)
        events = self._book.replace(old, new)
        events += self._streak_events(new, fresh_day, fresh_week)
        events += self._goal_events(old, new)
        return [{**e, "user_id": self.user_id, "activity_id": e.get("activity_id", activity_id)} for e in events]

    def _fresh_day_week(self, new: ActivityFact | None) -> tuple[bool, bool]:
        """Whether the new fact's local day / ISO week had no activity yet."""
        if new is None:
            return False, False
        d = new.local_date(self._zone)
        return (not self._totals.has(ALL, "day", d)), (not self._totals.has(ALL, "week", period_start(d, "week")))

    def _streak_events(self, new: ActivityFact | None, fresh_day: bool, fresh_week: bool) -> list[dict[str, Any]]:
        """streak events when a new active day (week) makes or lengthens a run of ≥ 2 days (weeks)."""
        if new is None:
            return []
        d, out = self._day_of[new.activity_id], []
        for period, fresh, x, member, units in (
            ("daily", fresh_day, d.toordinal(), self._day_active, self._day_ordinals),
            ("weekly", fresh_week, week_index(d), self._week_active, self._week_indices),
        ):
            n = run_through(member, x) if fresh else 0
            if n >= 2:
                out.append(
                    {
                        "type": "streak",
                        "period": period,
                        "length": n,
                        "day": d.isoformat(),
                        "longest_ever": n >= longest_run(units()),
                    }
                )
        return out

    def _day_active(self, o: int) -> bool:
        """Whether local day ordinal o has an activity."""
        return o >= 1 and date.fromordinal(o) in self._by_day

    def _week_active(self, w: int) -> bool:
        """Whether ISO week index w has an activity."""
        return w >= 0 and self._totals.has(ALL, "week", date.fromordinal(w * 7 + 1))

    def _day_ordinals(self) -> np.ndarray:
        """Sorted active day ordinals."""
        return np.asarray(self._day_ords, dtype=np.int64)

    def _week_indices(self) -> np.ndarray:
        """Sorted active ISO week indices."""
        return np.unique((self._day_ordinals() - 1) // 7)

    def _goal_events(self, old: ActivityFact | None, new: ActivityFact | None) -> list[dict[str, Any]]:
        """goal_achieved for goal periods the change completes (not announced before)."""
        out = []
        touched = [f for f in (old, new) if f is not None]
        for goal in self._goals:
            days = {f.local_date(self._zone) for f in touched if goal.sport in (None, f.sport)}
            for d in sorted(days):
                ev = achieved_event(goal, self._totals, d, self._emitted, new.activity_id if new else None)
                if ev:
                    out.append(ev)
        return out

    # ---- configuration ----------------------------------------------------------------------------------------

    def set_goals(self, goals: list[Goal]) -> list[dict[str, Any]]:
        """Replace the goal definitions; returns goal_achieved events for met periods not announced before."""
        self._goals = list(goals)
        ids = {g.goal_id for g in self._goals}
        self._emitted = {k for k in self._emitted if k[0] in ids}
        out = []
        for goal in self._goals:
            windows = {w for w in (goal.window(d) for d in self._by_day) if w is not None}
            for w in sorted(windows):
                ev = achieved_event(goal, self._totals, w[0], self._emitted)
                if ev:
                    out.append({**ev, "user_id": self.user_id})
        return out

    def set_timezone(self, tz: str) -> None:
        """Change the user's timezone: days and periods are recomputed from the stored facts."""
        self.tz, self._zone = tz, zone(tz)
        self._rebuild(list(self._facts.values()))

    def set_profile(self, profile: dict[str, Any] | None) -> None:
        """Change the athlete profile (max_hr, resting_hr, sex, birth_year): loads are recomputed."""
        self.profile, self._who = dict(profile or {}), athlete(profile)
        self._rebuild(list(self._facts.values()))

    # ---- reads ------------------------------------------------------------------------------------------------

    def today(self) -> date:
        """Today in the user's timezone."""
        return datetime.now(self._zone).date()

    def facts(self) -> list[ActivityFact]:
        """The stored facts in chronological order."""
        return sorted(self._facts.values(), key=ActivityFact.sort_key)

    def snapshot(self, today: date | None = None) -> dict[str, Any]:
        """The /stats body: ytd_distance, lifetime_workouts, totals, streaks, personal_records, training_load."""
        today = today or self.today()
        daily_load = {d: self._totals.vector(ALL, "day", d)[METRICS.index("load")] / SCALE for d in self._by_day}
        latest = max(self._facts.values(), key=ActivityFact.sort_key, default=None)
        return {
            "user_id": self.user_id,
            "timezone": self.tz,
            "as_of": today.isoformat(),
            "ytd_distance": self._totals.metric(ALL, "year", period_start(today, "year"), "distance_m"),
            "lifetime_workouts": self._totals.metric(ALL, "lifetime", LIFETIME, "count"),
            "totals": {s: self._current_totals(s, today) for s in [ALL, *self._totals.sports()]},
            "streaks": streak_summary({d: len(a) for d, a in self._by_day.items()}, today),
            "personal_records": self._book.view(with_history=False),
            "training_load": training_load(daily_load, today),
            "insights": {
                "activity_id": latest.activity_id if latest else None,
                "items": self.insights_for(latest.activity_id) if latest else [],
            },
        }

    def _current_totals(self, sport: str, today: date) -> dict[str, dict[str, Any]]:
        """Totals of one sport for the week, month and year holding today, and lifetime."""
        out: dict[str, dict[str, Any]] = {}
        for kind in ("week", "month", "year"):
            start = period_start(today, kind)
            out[kind] = {"period_start": start.isoformat(), **self._totals.get(sport, kind, start)}
        out["lifetime"] = self._totals.get(sport, "lifetime", LIFETIME)
        return out

    def records(self) -> dict[str, dict[str, Any]]:
        """The /records body: current PRs per sport and effort, with their history."""
        return self._book.view(with_history=True)

    def goals_view(self, today: date | None = None) -> list[dict[str, Any]]:
        """Each goal in the read shape, with its progress history per period."""
        today = today or self.today()
        return [goal_view(g, self._totals, today) for g in self._goals]

    def progress(
        self, metric: str, period: str, sport: str | None = None, start: date | None = None, end: date | None = None
    ) -> list[dict[str, Any]]:
        """Zero-filled series [{"period_start", "value"}] of distance|duration|count|elevation|load per period."""
        if metric not in PROGRESS_METRICS:
            raise ValueError(f"unknown metric {metric!r}")
        kind = normalise_period(period)
        end = end or self.today()
        start = start or shift_periods(end, kind, -11)
        starts = period_starts(start, end, kind)
        if len(starts) > MAX_SERIES_POINTS:
            raise ValueError("range too long")
        return [
            {
                "period_start": s.isoformat(),
                "value": self._totals.metric(sport or ALL, kind, s, PROGRESS_METRICS[metric]),
            }
            for s in starts
        ]

    def insights_for(self, activity_id: str) -> list[dict[str, Any]]:
        """Insights for one stored activity ([] when unknown)."""
        fact = self._facts.get(activity_id)
        if fact is None:
            return []
        day = self._day_of[activity_id]
        return (
            record_insights(fact, self._book)
            + longest_this_month(fact, self._month_peers(fact, day))
            + week_over_week(fact, day, self._totals)
            + streak_extended(
                day, self._first_in(fact, [day]), self._first_in(fact, self._week_days(day)), self._totals
            )
        )

    def _month_peers(self, fact: ActivityFact, day: date) -> list[ActivityFact]:
        """Facts of the same sport in the local month of `day`."""
        first = day.replace(day=1)
        days = [d for d in self._by_day if d.replace(day=1) == first]
        return [self._facts[a] for d in days for a in self._by_day[d] if self._facts[a].sport == fact.sport]

    def _week_days(self, day: date) -> list[date]:
        """Active days of the ISO week holding `day`."""
        ws = period_start(day, "week")
        return [d for d in self._by_day if period_start(d, "week") == ws]

    def _first_in(self, fact: ActivityFact, days: list[date]) -> bool:
        """Whether the fact is the earliest activity on those days."""
        ids = [a for d in days for a in self._by_day.get(d, ())]
        return min(ids, key=lambda a: self._facts[a].sort_key()) == fact.activity_id

    # ---- checkpoint -------------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-able checkpoint: facts, remembered event ids, announced goal periods, goals, tz, profile."""
        return {
            "version": 1,
            "user_id": self.user_id,
            "tz": self.tz,
            "profile": self.profile,
            "facts": [fact_to_dict(f) for f in self.facts()],
            "seen": list(self._seen),
            "emitted": sorted([g, p] for g, p in self._emitted),
            "goals": [goal_to_dict(g) for g in self._goals],
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> UserStats:
        """Rebuild from to_state() output (no events are emitted)."""
        s = cls(d["user_id"], d.get("tz", "UTC"), d.get("profile"))
        s._rebuild(fact_from_dict(f) for f in d.get("facts", []))
        s._goals = [goal_from_dict(g) for g in d.get("goals", [])]
        s._emitted = {(g, p) for g, p in d.get("emitted", [])}
        s._seen = OrderedDict((e, None) for e in d.get("seen", [])[-SEEN_LIMIT:])
        return s


def _checked(kind: str, fact: ActivityFact | None, activity_id: str) -> ActivityFact | None:
    """The fact to store (None for a delete); ValueError for an inconsistent event."""
    if kind == "deleted":
        return None
    if kind not in ("created", "updated"):
        raise ValueError(f"unknown event kind {kind!r}")
    if fact is None or fact.activity_id != activity_id:
        raise ValueError("created/updated needs the fact of that activity")
    return fact


def recompute(
    user_id: str,
    tz: str,
    facts: Iterable[ActivityFact],
    goals: Iterable[Goal] = (),
    profile: dict[str, Any] | None = None,
) -> UserStats:
    """UserStats built from scratch (all met goal periods count as announced)."""
    s = UserStats(user_id, tz, profile)
    s._rebuild(facts)
    s.set_goals(list(goals))
    return s
