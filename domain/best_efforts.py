"""Best efforts: fastest time over target distances, best average power over a duration.

Both cost O(samples · log samples) whatever the time span: the per-second power grid is built only when it is
about as long as the samples are many; two samples 1e8 s apart cost what two samples 1 s apart cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import numpy as np

from .series import GAP_S, first_reach

POWER_WINDOW_S = 1200


def best_distance_effort(t: np.ndarray, dist: np.ndarray, target_m: float) -> dict[str, float | str] | None:
    """Fastest elapsed window covering target_m (starts at samples, end interpolated); None if too short."""
    found = best_efforts(t, dist, (("", target_m),))
    if not found:
        return None
    found[0].pop("name")
    return found[0]


def best_efforts(t: np.ndarray, dist: np.ndarray, targets: Sequence[tuple[str, float]]) -> list[dict[str, float | str]]:
    """[{"name", "distance_m", "elapsed_s", "start_offset_s", "end_offset_s"}] for each target reached.

    Windows start at samples; the end is where the (non-decreasing) distance first reaches start + target,
    interpolated in time. All targets share one vectorised search.
    """
    if len(t) < 2:
        return []
    reached = [(name, target) for name, target in targets if dist[-1] - dist[0] >= target]
    if not reached:
        return []
    counts = [int(np.count_nonzero(dist + target <= dist[-1])) for _, target in reached]  # a prefix of the starts
    queries = np.concatenate([dist[:k] + target for (_, target), k in zip(reached, counts, strict=True)])
    j, frac = first_reach(queries, dist)
    ends = t[j - 1] + frac * (t[j] - t[j - 1])
    out: list[dict[str, float | str]] = []
    offset = 0
    for (name, target), k in zip(reached, counts, strict=True):
        elapsed = ends[offset : offset + k] - t[:k]
        i = int(np.argmin(elapsed))
        out.append(
            {
                "name": name,
                "distance_m": target,
                "elapsed_s": float(elapsed[i]),
                "start_offset_s": float(t[i]),
                "end_offset_s": float(ends[offset + i]),
            }
        )
        offset += k
    return out


def _first_k(pred: Callable[[np.ndarray], np.ndarray], estimate: np.ndarray) -> np.ndarray:
    """The first k >= 0 where a predicate that is False then True in k holds, from an estimate at most 1 off."""
    k = np.maximum(estimate, 0.0)
    k = np.where(pred(k), k, k + 1)
    k = np.where(pred(k), k, k + 1)
    k = np.where((k > 0) & pred(k - 1), k - 1, k)
    return cast(np.ndarray, np.where((k > 0) & pred(k - 1), k - 1, k))


def power_pieces(
    t: np.ndarray, power: np.ndarray, gap_s: float = GAP_S
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The 1 s power grid as constant pieces: (first grid index, end index (exclusive), watts, grid length).

    The grid (never built): point k is t[0] + k s, as numpy.arange(t[0], t[-1] + 1e-9, 1.0) computes it; its value
    is the power of the last sample at or before it, held for at most gap_s (then 0), NaN counting as 0. Sample i
    therefore covers the grid points from the first at or after t[i] to the last before t[i + 1] that is no more
    than gap_s after t[i]: every boundary is found with the grid's own floating-point arithmetic.
    """
    t0 = float(t[0])
    step = (t0 + 1.0) - t0  # numpy.arange's own increment
    length = int(np.ceil(float(t[-1]) + 1e-9 - t0))
    starts = _first_k(lambda k: t0 + k * step >= t, np.ceil((t - t0) / step))
    held = _first_k(lambda k: (t0 + k * step) - t > gap_s, np.floor((t + gap_s - t0) / step) + 1)
    nxt = np.append(starts[1:], float(length))
    ends = np.maximum(np.minimum(np.minimum(nxt, held), float(length)), np.minimum(starts, float(length)))
    return np.minimum(starts, float(length)), ends, np.nan_to_num(power, nan=0.0), length


DENSE_GRID_PER_SAMPLE = 4  # up to this many grid seconds per sample (plus one window), the grid itself is cheapest


def best_power(
    t: np.ndarray, power: np.ndarray, duration_s: int = POWER_WINDOW_S
) -> dict[str, float | int | str] | None:
    """Best mean power over duration_s ({"name", "duration_s", "watts", "start_offset_s"}), None if too short.

    Power on the 1 s grid of `power_pieces`; the best window of duration_s grid points. A densely recorded activity
    uses the grid itself (its length is then O(samples)); a sparse one (long gaps, e.g. two samples 1e8 s apart) uses
    the pieces, never the grid: cost and memory stay O(samples) either way.
    """
    if len(t) < 2 or not np.isfinite(power).any() or t[-1] - t[0] + 1 < duration_s:
        return None
    length = int(np.ceil(float(t[-1]) + 1e-9 - float(t[0])))
    if length <= DENSE_GRID_PER_SAMPLE * len(t) + duration_s:
        k, watts = _best_window_on_grid(t, power, duration_s)
    else:
        k, watts = _best_window_from_pieces(t, power, duration_s)
    return {
        "name": f"{duration_s // 60}min_power",
        "duration_s": duration_s,
        "watts": watts,
        "start_offset_s": float(t[0] + k),
    }


def power_per_second(t: np.ndarray, power: np.ndarray, gap_s: float = GAP_S) -> np.ndarray:
    """The 1 s power grid itself (see `power_pieces`); only for dense tracks: its length is the time span."""
    grid = np.arange(t[0], t[-1] + 1e-9, 1.0)
    idx = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 1)
    p = np.nan_to_num(power[idx], nan=0.0)
    return np.where(grid - t[idx] <= gap_s, p, 0.0)


def _best_window_on_grid(t: np.ndarray, power: np.ndarray, duration_s: int) -> tuple[float, float]:
    """(first grid index, mean watts) of the best window, from the grid's running sum."""
    c = np.concatenate(([0.0], np.cumsum(power_per_second(t, power))))
    means = (c[duration_s:] - c[:-duration_s]) / duration_s
    k = int(np.argmax(means))
    return float(k), float(means[k])


def _best_window_from_pieces(t: np.ndarray, power: np.ndarray, duration_s: int) -> tuple[float, float]:
    """The same from the pieces: the window sum S(k + D) - S(k) is linear in k between piece boundaries, so the best
    (first best) window starts at a boundary b, at b - D, or at either end: only those O(samples) are evaluated."""
    starts, ends, watts, length = power_pieces(t, power)
    energy = np.concatenate(([0.0], np.cumsum(watts * (ends - starts))))  # grid sum before each piece

    def running_sum(k: np.ndarray) -> np.ndarray:
        i = np.maximum(np.searchsorted(starts, k, side="right") - 1, 0)
        return cast(np.ndarray, energy[i] + watts[i] * (np.clip(k, starts[i], ends[i]) - starts[i]))

    last = float(length - duration_s)
    bounds = np.concatenate((starts, ends))
    cand = np.unique(np.clip(np.concatenate((bounds, bounds - duration_s, [0.0, last])), 0.0, last))
    means = (running_sum(cand + duration_s) - running_sum(cand)) / duration_s
    i = int(np.argmax(means))
    return float(cand[i]), float(means[i])
