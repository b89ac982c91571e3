"""Distance, speed and moving time from a cleaned track.

Per segment (the interval ending at each sample):
- recorded: the step is <= GAP_S (10 s), or a sparse step <= SPARSE_MAX_S (60 s) that covered ground at moving
  speed (devices that record every 10–30 s); longer steps are pauses.
- moving: recorded and the smoothed speed is at least the sport's threshold (without speed data: recorded).
- distance accrues only on moving segments: GPS jitter while standing still, and any jump across a pause,
  is not distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geo import cumulative_distance, integrate_speed
from .series import GAP_S
from .track import Track

SPEED_HALF_WINDOW = 2  # speed is smoothed over ±2 samples (≈ 4–5 s at 1 Hz)
SPARSE_MAX_S = 60.0


@dataclass(frozen=True, eq=False)
class Motion:
    """Per-sample results: recorded and moving seconds of the segment ending there, distance, speed."""

    recorded_s: np.ndarray
    moving_s: np.ndarray
    distance: np.ndarray  # cumulative metres (moving segments only)
    speed: np.ndarray | None  # smoothed m/s; None without GPS or speed channel


def raw_distance(track: Track) -> np.ndarray | None:
    """Cumulative path length: haversine over GPS, else the integrated (non-zero) speed channel, else None."""
    if track.has_gps():
        return cumulative_distance(track.lat, track.lng)
    if track.has("speed") and np.nanmax(track.speed) > 0:  # an all-zero channel means no sensor
        return integrate_speed(track.t, track.speed, SPARSE_MAX_S)
    return None


def _block_bounds(t: np.ndarray, gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """First and last index of the gap-free block each sample belongs to."""
    n = len(t)
    brk = np.flatnonzero(np.diff(t) > gap_s) + 1  # first index of each new block
    starts = np.zeros(n, dtype=np.int64)
    starts[brk] = brk
    first = np.maximum.accumulate(starts)
    ends = np.full(n, n - 1, dtype=np.int64)
    ends[brk - 1] = brk - 1
    last = np.minimum.accumulate(ends[::-1])[::-1]
    return first, last


def smoothed_speed(t: np.ndarray, dist: np.ndarray, half: int = SPEED_HALF_WINDOW, gap_s: float = GAP_S) -> np.ndarray:
    """Speed (m/s) per sample from the distance covered over a centred ±half-sample window that never spans a pause."""
    n = len(t)
    if n < 2:
        return np.zeros(n)
    i = np.arange(n)
    first, last = _block_bounds(t, gap_s)
    lo = np.maximum(i - half, first)  # a window cut by a block edge is shifted to keep its width
    hi = np.minimum(lo + 2 * half, last)
    lo = np.maximum(hi - 2 * half, first)
    alone = lo == hi  # a sample alone between pauses (sparse recording): use its plain neighbours
    lo, hi = np.where(alone, np.maximum(i - 1, 0), lo), np.where(alone, np.minimum(i + 1, n - 1), hi)
    dt = t[hi] - t[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(dt > 0, (dist[hi] - dist[lo]) / dt, 0.0)


def _prepend0(x: np.ndarray) -> np.ndarray:
    return np.concatenate(([0.0], x))


def measure_motion(track: Track, threshold: float, gap_s: float = GAP_S) -> Motion:
    """Recorded/moving seconds, distance and speed of a cleaned track (rules in the module docstring)."""
    t = track.t
    dt = np.diff(t)
    raw = raw_distance(track)
    if raw is None or len(t) < 2:
        rec = _prepend0(np.where(dt <= gap_s, dt, 0.0))
        return Motion(rec, rec, np.zeros(len(t)), None)
    step = np.diff(raw)
    with np.errstate(invalid="ignore", divide="ignore"):
        step_speed = np.where(dt > 0, step / dt, 0.0)
    speed = smoothed_speed(t, raw)
    seg_speed = np.where(dt <= gap_s, 0.5 * (speed[1:] + speed[:-1]), step_speed)
    recorded = (dt <= gap_s) | ((dt <= SPARSE_MAX_S) & (step_speed >= threshold))
    moving = recorded & (seg_speed >= threshold)
    return Motion(
        recorded_s=_prepend0(np.where(recorded, dt, 0.0)),
        moving_s=_prepend0(np.where(moving, dt, 0.0)),
        distance=np.cumsum(_prepend0(np.where(moving, step, 0.0))),
        speed=speed,
    )
