"""Best efforts: fastest time over target distances, best average power over a duration."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .series import GAP_S, interp_first

POWER_WINDOW_S = 1200


def best_distance_effort(t: np.ndarray, dist: np.ndarray, target_m: float) -> dict | None:
    """Fastest elapsed window covering target_m (starts at samples, end interpolated); None if too short."""
    if len(t) < 2 or dist[-1] - dist[0] < target_m:
        return None
    starts = np.flatnonzero(dist + target_m <= dist[-1])
    ends = interp_first(dist[starts] + target_m, dist, t)
    elapsed = ends - t[starts]
    k = int(np.argmin(elapsed))
    return {"distance_m": target_m, "elapsed_s": float(elapsed[k]),
            "start_offset_s": float(t[starts[k]]), "end_offset_s": float(ends[k])}


def best_efforts(t: np.ndarray, dist: np.ndarray, targets: Sequence[tuple[str, float]]) -> list[dict]:
    """[{"name", "distance_m", "elapsed_s", "start_offset_s", "end_offset_s"}] for each target reached."""
    out = []
    for name, target in targets:
        effort = best_distance_effort(t, dist, target)
        if effort is not None:
            out.append({"name": name, **effort})
    return out


def power_per_second(t: np.ndarray, power: np.ndarray, gap_s: float = GAP_S) -> np.ndarray:
    """Power on a 1 s grid from the first sample: last value held, 0 where missing or during pauses."""
    grid = np.arange(t[0], t[-1] + 1e-9, 1.0)
    idx = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 1)
    p = np.nan_to_num(power[idx], nan=0.0)
    return np.where(grid - t[idx] <= gap_s, p, 0.0)


def best_power(t: np.ndarray, power: np.ndarray, duration_s: int = POWER_WINDOW_S) -> dict | None:
    """Best mean power over duration_s ({"name", "duration_s", "watts", "start_offset_s"}), None if too short."""
    if len(t) < 2 or not np.isfinite(power).any() or t[-1] - t[0] + 1 < duration_s:
        return None
    p = power_per_second(t, power)
    c = np.concatenate(([0.0], np.cumsum(p)))
    means = (c[duration_s:] - c[:-duration_s]) / duration_s
    k = int(np.argmax(means))
    return {"name": f"{duration_s // 60}min_power", "duration_s": duration_s,
            "watts": float(means[k]), "start_offset_s": float(t[0] + k)}
