"""Heart-rate zones (Karvonen, % of heart-rate reserve) and time spent in each."""

from __future__ import annotations

from typing import Any

import numpy as np

# Lower bound of zones 1..5 as a fraction of heart-rate reserve above resting.
ZONE_FRACTIONS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)


def zone_bounds(max_hr: int, resting_hr: int) -> list[tuple[int, int, int]]:
    """[(zone, min_bpm, max_bpm)] for zones 1..5; zone 1 starts at 0 bpm, zone 5 ends at max_hr."""
    resting_hr = min(resting_hr, max_hr - 10)
    lows = [round(resting_hr + f * (max_hr - resting_hr)) for f in ZONE_FRACTIONS]
    lows[0] = 0
    highs = [lo - 1 for lo in lows[1:]] + [max_hr]
    return [(z + 1, lo, hi) for z, (lo, hi) in enumerate(zip(lows, highs, strict=False))]


def zone_index(hr: np.ndarray, bounds: list[tuple[int, int, int]]) -> np.ndarray:
    """0-based zone per HR value (below zone 2 -> 0, at or above zone 5's minimum -> 4)."""
    edges = np.array([lo for _, lo, _ in bounds[1:]], dtype=float)
    return np.searchsorted(edges, hr, side="right")


def time_in_zones(hr: np.ndarray, seconds: np.ndarray, bounds: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
    """Seconds per zone, each sample weighted by `seconds`; samples without HR are skipped."""
    ok = np.isfinite(hr) & (seconds > 0)
    totals = np.bincount(zone_index(hr[ok], bounds), weights=seconds[ok], minlength=len(bounds))
    return [
        {"zone": z, "min_bpm": lo, "max_bpm": hi, "seconds": float(s)}
        for (z, lo, hi), s in zip(bounds, totals, strict=False)
    ]
