"""Per-sport, per-period totals kept by exact integer add/subtract (thousandths of each unit)."""

from __future__ import annotations

import math
from datetime import date, timedelta

from .facts import ActivityFact
from .periods import period_start

METRICS: tuple[str, ...] = ("count", "distance_m", "moving_s", "elevation_gain_m", "calories", "volume_kg", "load")
KINDS: tuple[str, ...] = ("day", "week", "month", "year", "lifetime")
ALL = "all"
SCALE = 1000  # integer thousandths: sums are exact, so add/subtract equals a from-scratch sum bit for bit
LIFETIME = date(1, 1, 1)

Key = tuple[str, str, date]


def milli(x: float | None) -> int:
    """x in integer thousandths (None, NaN, inf and negatives count as 0)."""
    if x is None or not math.isfinite(x) or x <= 0:
        return 0
    return round(x * SCALE)


def fact_vector(fact: ActivityFact, load: float) -> tuple[int, ...]:
    """The metric vector one activity adds, in thousandths, ordered as METRICS."""
    return (
        SCALE,
        milli(fact.distance_m),
        milli(fact.duration_s),
        milli(fact.elevation_gain_m),
        milli(fact.calories),
        milli(fact.volume_kg),
        milli(load),
    )


def period_keys(sport: str, day: date) -> list[Key]:
    """Every totals key one activity on `day` contributes to, for its sport and for 'all'."""
    starts = [(k, LIFETIME if k == "lifetime" else period_start(day, k)) for k in KINDS]
    return [(s, k, st) for s in (sport, ALL) for k, st in starts]


def as_dict(vec: tuple[int, ...] | list[int] | None) -> dict[str, float]:
    """Public shape of a metric vector: count as int, the rest in units."""
    vec = vec or (0,) * len(METRICS)
    out: dict[str, float] = {m: v / SCALE for m, v in zip(METRICS, vec, strict=False)}
    out["count"] = int(vec[0] // SCALE)
    return out


class PeriodTotals:
    """Totals for every (sport | 'all', kind, period start); keys whose count drops to 0 are removed."""

    def __init__(self) -> None:
        self._t: dict[Key, list[int]] = {}

    def add(self, sport: str, day: date, vec: tuple[int, ...], sign: int = 1) -> None:
        """Add (sign=1) or subtract (sign=-1) one activity's vector on its local day."""
        for key in period_keys(sport, day):
            cur = self._t.setdefault(key, [0] * len(METRICS))
            for i, v in enumerate(vec):
                cur[i] += sign * v
            if cur[0] <= 0:
                del self._t[key]

    def vector(self, sport: str, kind: str, start: date) -> tuple[int, ...]:
        """Raw vector for a key (zeros when absent)."""
        return tuple(self._t.get((sport, kind, start), (0,) * len(METRICS)))

    def get(self, sport: str, kind: str, start: date) -> dict[str, float]:
        """Public totals for one sport ('all' for every sport), kind and period start."""
        return as_dict(self._t.get((sport, kind, start)))

    def metric(self, sport: str, kind: str, start: date, metric: str) -> float:
        """One metric of one period (count as int)."""
        return self.get(sport, kind, start)[metric]

    def range_vector(self, sport: str, first: date, last: date) -> tuple[int, ...]:
        """Sum of the daily vectors of `sport` over first..last inclusive."""
        acc = [0] * len(METRICS)
        for n in range((last - first).days + 1):
            vec = self._t.get((sport, "day", first + timedelta(days=n)))
            if vec:
                acc = [a + v for a, v in zip(acc, vec, strict=False)]
        return tuple(acc)

    def has(self, sport: str, kind: str, start: date) -> bool:
        """Whether the period holds at least one activity of `sport`."""
        return (sport, kind, start) in self._t

    def days(self, sport: str = ALL) -> dict[date, tuple[int, ...]]:
        """Every active day of `sport` with its vector."""
        return {d: tuple(v) for (s, k, d), v in self._t.items() if s == sport and k == "day"}

    def sports(self) -> list[str]:
        """Sports with at least one activity, sorted."""
        return sorted(s for (s, k, _), _v in self._t.items() if k == "lifetime" and s != ALL)
