"""Times for points recorded without timestamps (routes, partially timed GPX).

Synthetic times (the parser then reports timed=False): each step takes its length at the timed points'
mean speed (DEFAULT_ROUTE_SPEED_MPS when fewer than two are timed), clipped to 1–50 s so a step is never a
pause; a new track/segment starts after a SEGMENT_BREAK_S pause, so the jump between separate logs is not
distance. The clock is anchored so the first timed point keeps its time.
"""

from __future__ import annotations

import numpy as np

from ..geo import haversine

DEFAULT_ROUTE_SPEED_MPS = 1.0
SEGMENT_BREAK_S = 3600.0


def _timed_speed(t: np.ndarray, d: np.ndarray) -> float:
    """Mean speed between the first and last timed point, or the default."""
    idx = np.flatnonzero(np.isfinite(t))
    if len(idx) >= 2 and t[idx[-1]] > t[idx[0]] and d[idx[-1]] > d[idx[0]]:
        return float((d[idx[-1]] - d[idx[0]]) / (t[idx[-1]] - t[idx[0]]))
    return DEFAULT_ROUTE_SPEED_MPS


def fill_times(
    t: np.ndarray, lat: np.ndarray, lng: np.ndarray, segment: np.ndarray | None = None
) -> tuple[np.ndarray, bool]:
    """(times, all_timed): the given times when every point has one, else synthetic times (module docstring)."""
    timed = np.isfinite(t)
    if timed.all():
        return t, True
    n = len(t)
    seg = np.zeros(n, dtype=np.int64) if segment is None else np.asarray(segment)
    step = np.nan_to_num(haversine(lat[:-1], lng[:-1], lat[1:], lng[1:]), nan=0.0)
    new_seg = seg[1:] != seg[:-1]
    d = np.concatenate(([0.0], np.cumsum(np.where(new_seg, 0.0, step))))
    speed = _timed_speed(t, d)
    dt = np.where(new_seg, SEGMENT_BREAK_S, np.clip(step / speed, 1.0, 50.0))
    synthetic = np.concatenate(([0.0], np.cumsum(dt)))
    anchor = np.flatnonzero(timed)
    offset = t[anchor[0]] - synthetic[anchor[0]] if len(anchor) else 0.0
    return synthetic + offset, False
