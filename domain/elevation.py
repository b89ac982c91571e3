"""Elevation gain and loss with a hysteresis threshold, after spike removal and smoothing."""

from __future__ import annotations

import numpy as np

from .smoothing import median_filter, moving_average

ELEVATION_THRESHOLD_M: float = 3.0  # a climb or descent counts only once it exceeds this (hysteresis)


def smooth_altitude(alt: np.ndarray) -> np.ndarray:
    """Altitude with spikes of up to 2 samples removed (median of 5) and then a 5-sample moving average."""
    return moving_average(median_filter(alt, 5), 5)


def _turning_points(a: np.ndarray) -> np.ndarray:
    """The endpoints and local extrema of a series (all that hysteresis needs), flat steps removed."""
    d = np.diff(a)
    nz = np.flatnonzero(d != 0)
    if len(nz) == 0:
        return a[:1]
    sign = np.sign(d[nz])
    change = nz[1:][sign[1:] != sign[:-1]]
    return np.concatenate((a[:1], a[change], a[-1:]))


def gain_loss(alt: np.ndarray, threshold: float = ELEVATION_THRESHOLD_M) -> tuple[float, float]:
    """Total (gain, loss) in metres: a leg counts only when it rises or falls at least `threshold`."""
    a = alt[np.isfinite(alt)]
    if len(a) < 2:
        return 0.0, 0.0
    gain = loss = 0.0
    direction, base, ext, lo, hi = 0, a[0], a[0], a[0], a[0]
    for x in _turning_points(a).tolist():
        if direction == 0:
            lo, hi = min(lo, x), max(hi, x)
            if x - lo >= threshold:
                direction, base, ext = 1, lo, x
            elif hi - x >= threshold:
                direction, base, ext = -1, hi, x
        elif direction == 1:
            if x > ext:
                ext = x
            elif ext - x >= threshold:
                gain += ext - base
                direction, base, ext = -1, ext, x
        else:
            if x < ext:
                ext = x
            elif x - ext >= threshold:
                loss += base - ext
                direction, base, ext = 1, ext, x
    if direction == 1:
        gain += ext - base
    elif direction == -1:
        loss += base - ext
    return float(gain), float(loss)
