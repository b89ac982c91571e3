"""Times for points recorded without timestamps (routes, partially timed GPX)."""
from __future__ import annotations

import numpy as np

from ..geo import cumulative_distance

DEFAULT_ROUTE_SPEED_MPS = 1.0  # used only when fewer than two points carry a time


def fill_times(t: np.ndarray, lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, bool]:
    """(times, all_timed): missing times interpolated along distance between timed points, extrapolated at their mean speed."""
    timed = np.isfinite(t)
    if timed.all():
        return t, True
    d = cumulative_distance(lat, lng)
    idx = np.flatnonzero(timed)
    if len(idx) >= 2 and d[idx[-1]] > d[idx[0]] and t[idx[-1]] > t[idx[0]]:
        speed = (d[idx[-1]] - d[idx[0]]) / (t[idx[-1]] - t[idx[0]])
        t0, d0 = t[idx[0]], d[idx[0]]
    else:
        speed, t0, d0 = DEFAULT_ROUTE_SPEED_MPS, (t[idx[0]] if len(idx) else 0.0), (d[idx[0]] if len(idx) else 0.0)
    out = t0 + (d - d0) / speed
    if len(idx) >= 2:
        inside = (np.arange(len(t)) > idx[0]) & (np.arange(len(t)) < idx[-1])
        out[inside] = np.interp(d[inside], d[idx], t[idx])
    out[timed] = t[timed]
    # guarantee strictly increasing times so no point is merged away as a duplicate
    return np.maximum.accumulate(out + np.arange(len(t)) * 1e-3), False
