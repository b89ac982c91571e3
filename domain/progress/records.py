"""Personal records with history: best efforts, longest distance, biggest climb, best 1RM per exercise.

A record's history is the chronological chain (by activity start, not arrival) of strict improvements, so a late
upload of an older, better effort rewrites it, and a delete hands the record to the next best.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

import numpy as np

from .facts import ActivityFact

RecordKey = tuple[str, str, str]  # (category, sport, name); one_rm uses sport "any" and the exercise as name
Entry = tuple[float, str, float, str]  # (start timestamp, activity_id, value, start ISO)
CATEGORIES: tuple[str, ...] = ("best_effort", "longest", "biggest_climb", "one_rm")
VIEW_NAMES: dict[str, str] = {
    "best_effort": "best_efforts",
    "longest": "longest",
    "biggest_climb": "biggest_climb",
    "one_rm": "one_rm",
}


def higher_is_better(key: RecordKey) -> bool:
    """Times are better lower; distance, climb, 1RM and power are better higher."""
    return key[0] != "best_effort" or key[2].endswith("_power")


def unit(key: RecordKey) -> str:
    """Unit of a record's value."""
    if key[0] == "best_effort":
        return "W" if key[2].endswith("_power") else "s"
    return "kg" if key[0] == "one_rm" else "m"


def record_values(fact: ActivityFact) -> dict[RecordKey, float]:
    """Every record candidate an activity holds (non-positive values hold none)."""
    out: dict[RecordKey, float] = {("best_effort", fact.sport, n): float(v) for n, v in fact.best_efforts}
    out.update({("one_rm", "any", n): float(v) for n, v in fact.one_rm})
    out[("longest", fact.sport, "distance")] = float(fact.distance_m)
    out[("biggest_climb", fact.sport, "elevation_gain")] = float(fact.elevation_gain_m)
    return {k: v for k, v in out.items() if np.isfinite(v) and v > 0}


def improvements(values: list[float], higher: bool) -> list[int]:
    """Indices of the (chronological) values that strictly beat every earlier one."""
    if not values:
        return []
    vals = np.asarray(values, dtype=float)
    vals = -vals if higher else vals
    best_before = np.minimum.accumulate(vals)
    return [0, *(np.flatnonzero(vals[1:] < best_before[:-1]) + 1).tolist()]


class Candidates:
    """One record key's candidates in chronological order, as parallel lists (cheap to hand to numpy)."""

    def __init__(self) -> None:
        self.order: list[tuple[float, str]] = []  # (start timestamp, activity_id), sorted
        self.values: list[float] = []
        self.isos: list[str] = []

    def insert(self, ts: float, aid: str, value: float, iso: str) -> None:
        """Insert one candidate at its chronological place."""
        i = bisect_left(self.order, (ts, aid))
        self.order.insert(i, (ts, aid))
        self.values.insert(i, value)
        self.isos.insert(i, iso)

    def remove(self, ts: float, aid: str) -> None:
        """Remove the candidate of that activity."""
        i = bisect_left(self.order, (ts, aid))
        del self.order[i], self.values[i], self.isos[i]

    def entry(self, i: int) -> Entry:
        """The i-th candidate as an Entry."""
        return (self.order[i][0], self.order[i][1], self.values[i], self.isos[i])

    def entries(self) -> list[Entry]:
        """All candidates as Entries, chronological."""
        return [self.entry(i) for i in range(len(self.order))]


def entry_dict(e: Entry) -> dict[str, Any]:
    """Public shape of one history entry."""
    return {"value": e[2], "activity_id": e[1], "achieved_at": e[3]}


class RecordBook:
    """Per record key: the chronological candidates and the improvement history derived from them."""

    def __init__(self) -> None:
        self._entries: dict[RecordKey, Candidates] = {}
        self._history: dict[RecordKey, list[Entry]] = {}

    def _remove(self, fact: ActivityFact) -> set[RecordKey]:
        """Drop a fact's candidates; returns the keys touched."""
        ts, aid = fact.sort_key()
        for key in (keys := set(record_values(fact))):
            self._entries[key].remove(ts, aid)
        return keys

    def _add(self, fact: ActivityFact) -> set[RecordKey]:
        """Insert a fact's candidates in chronological order; returns the keys touched."""
        ts, aid = fact.sort_key()
        iso = fact.utc_start().isoformat()
        values = record_values(fact)
        for key, v in values.items():
            self._entries.setdefault(key, Candidates()).insert(ts, aid, v, iso)
        return set(values)

    def _refresh(self, key: RecordKey) -> None:
        """Recompute one key's history from its candidates."""
        cands = self._entries.get(key)
        if cands and cands.order:
            self._history[key] = [cands.entry(i) for i in improvements(cands.values, higher_is_better(key))]
        else:
            self._entries.pop(key, None)
            self._history.pop(key, None)

    def load(self, facts: Iterable[ActivityFact]) -> None:
        """Bulk-add facts (no events), then derive every history once."""
        for f in facts:
            self._add(f)
        for key in list(self._entries):
            self._refresh(key)

    def current(self, key: RecordKey) -> Entry | None:
        """The record holder now (last improvement), or None."""
        hist = self._history.get(key)
        return hist[-1] if hist else None

    def replace(self, old: ActivityFact | None, new: ActivityFact | None) -> list[dict[str, Any]]:
        """Swap a fact's candidates; returns a personal_record event per key the new fact now holds afresh."""
        keys = (self._remove(old) if old else set()) | (self._add(new) if new else set())
        before = {k: self.current(k) for k in keys}
        for key in keys:
            self._refresh(key)
        events = []
        for key in sorted(keys):
            cur = self.current(key)
            prev = before[key]
            if new and cur and cur[1] == new.activity_id and (prev is None or prev[1:3] != cur[1:3]):
                events.append(record_event(key, cur, before[key]))
        return events

    def rank(self, key: RecordKey, activity_id: str) -> int | None:
        """1-based rank of the activity's value among all candidates (ties: earlier first)."""
        cands = self._entries.get(key)
        i = next((j for j, o in enumerate(cands.order) if o[1] == activity_id), None) if cands else None
        if cands is None or i is None:
            return None
        vals = np.asarray(cands.values, dtype=float)
        vals = -vals if higher_is_better(key) else vals
        return 1 + int(np.count_nonzero(vals < vals[i])) + int(np.count_nonzero(vals[:i] == vals[i]))

    def set_in(self, key: RecordKey, activity_id: str) -> Entry | None:
        """The history entry where the activity set this record, if it ever did."""
        return next((e for e in self._history.get(key, []) if e[1] == activity_id), None)

    def view(self, with_history: bool = True) -> dict[str, dict[str, Any]]:
        """{"best_efforts": {sport: {name: rec}}, "longest": {sport: rec}, "biggest_climb": {sport: rec},
        "one_rm": {exercise: rec}}; rec = current value, holder, unit (+ history)."""
        out: dict[str, dict[str, Any]] = {VIEW_NAMES[c]: {} for c in CATEGORIES}
        for key in sorted(self._history):
            cat, sport, name = key
            rec = {**entry_dict(self._history[key][-1]), "unit": unit(key)}
            if with_history:
                rec["history"] = [entry_dict(e) for e in self._history[key]]
            if cat == "best_effort":
                out["best_efforts"].setdefault(sport, {})[name] = rec
            else:
                out[VIEW_NAMES[cat]][name if cat == "one_rm" else sport] = rec
        return out


def record_event(key: RecordKey, cur: Entry, prev: Entry | None) -> dict[str, Any]:
    """A personal_record event payload."""
    return {
        "type": "personal_record",
        "category": key[0],
        "sport": key[1],
        "name": key[2],
        "unit": unit(key),
        **entry_dict(cur),
        "previous": entry_dict(prev) if prev else None,
    }
