"""Device laps and automatic distance splits, measured from cumulative series by interpolation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .series import first_reach, window_mean

SPLIT_M: float = 1000.0
MIN_LAST_SPLIT_M: float = 10.0  # a trailing partial split shorter than this is dropped
# More splits than this per sample means steps of kilometres between samples: a GPS fault, not a workout (no sport's
# plausible speed covers 4 km in a 60 s sparse step). Such a track gets no splits, so their number is O(samples).
MAX_SPLITS_PER_SAMPLE: int = 4


@dataclass(frozen=True)
class DeviceLap:
    """A lap recorded by the device, as offsets (s) from the activity start."""

    start_offset_s: float
    end_offset_s: float


@dataclass(frozen=True, eq=False)
class Cumulative:
    """Per-sample cumulative series of one activity: time, distance, moving time, ∫HR, HR time, altitude."""

    t: np.ndarray
    dist: np.ndarray
    moving: np.ndarray
    hr_int: np.ndarray
    hr_time: np.ndarray
    alt: np.ndarray

    def at_times(self, q: np.ndarray) -> dict[str, np.ndarray]:
        """Every series evaluated at time offsets q."""
        return {k: np.interp(q, self.t, getattr(self, k)) for k in ("t", "dist", "moving", "hr_int", "hr_time", "alt")}

    def at_distances(self, q: np.ndarray) -> dict[str, np.ndarray]:
        """Every series evaluated where the distance first reaches q."""
        j, frac = first_reach(q, self.dist)  # one search for every series (= interp_first on each)
        out = {}
        for k in ("t", "dist", "moving", "hr_int", "hr_time", "alt"):
            fp = getattr(self, k)
            out[k] = fp[j - 1] + frac * (fp[j] - fp[j - 1])
        return out


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def _window(v: dict[str, np.ndarray], i: int) -> dict[str, float | None]:
    """Elapsed, moving, distance, avg speed and avg HR between points i and i+1 of evaluated series."""
    d = float(v["dist"][i + 1] - v["dist"][i])
    moving = float(v["moving"][i + 1] - v["moving"][i])
    hr = window_mean(v["hr_int"][i : i + 2], v["hr_time"][i : i + 2])
    return {
        "elapsed_s": float(v["t"][i + 1] - v["t"][i]),
        "moving_s": moving,
        "distance_m": d,
        "avg_speed_mps": _ratio(d, moving),
        "avg_hr": hr,
    }


def lap_metrics(cum: Cumulative, laps: Sequence[DeviceLap]) -> list[dict[str, Any]]:
    """[{"index", "start_offset_s", "elapsed_s", "moving_s", "distance_m", "avg_speed_mps", "avg_hr"}] per lap."""
    out: list[dict[str, Any]] = []
    if len(cum.t) == 0:
        return out
    for k, lap in enumerate(sorted(laps, key=lambda lp: lp.start_offset_s)):
        v = cum.at_times(np.array([lap.start_offset_s, lap.end_offset_s], dtype=float))
        w = _window(v, 0)
        w["elapsed_s"] = float(max(lap.end_offset_s - lap.start_offset_s, 0.0))
        out.append({"index": k, "start_offset_s": float(lap.start_offset_s), **w})
    return out


def split_boundaries(total_m: float, split_m: float = SPLIT_M) -> np.ndarray:
    """Distances 0, split_m, 2·split_m, …, total (a trailing part under MIN_LAST_SPLIT_M is dropped)."""
    full = np.arange(0.0, total_m + 1e-9, split_m)
    if total_m - full[-1] >= MIN_LAST_SPLIT_M:
        full = np.append(full, total_m)
    return full


def distance_splits(cum: Cumulative, split_m: float = SPLIT_M) -> list[dict[str, Any]]:
    """Automatic splits: [{"split", "distance_m", "elapsed_s", "moving_s", "avg_speed_mps", "pace_s_per_km",
    "elevation_diff_m", "avg_hr"}] (none for a track claiming over MAX_SPLITS_PER_SAMPLE splits per sample)."""
    if len(cum.t) < 2 or cum.dist[-1] < MIN_LAST_SPLIT_M or cum.dist[-1] / split_m > MAX_SPLITS_PER_SAMPLE * len(cum.t):
        return []
    v = cum.at_distances(split_boundaries(float(cum.dist[-1]), split_m))
    out: list[dict[str, Any]] = []
    for i in range(len(v["t"]) - 1):
        w = _window(v, i)
        de = float(v["alt"][i + 1] - v["alt"][i])
        out.append(
            {
                "split": i + 1,
                "distance_m": w["distance_m"],
                "elapsed_s": w["elapsed_s"],
                "moving_s": w["moving_s"],
                "avg_speed_mps": w["avg_speed_mps"],
                "pace_s_per_km": _ratio(1000.0 * (w["moving_s"] or 0.0), w["distance_m"] or 0.0),
                "elevation_diff_m": de if np.isfinite(de) else None,
                "avg_hr": w["avg_hr"],
            }
        )
    return out
