"""NaN-aware centred moving averages and medians over numpy arrays."""

from __future__ import annotations

import warnings
from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over `window` samples, ignoring NaN; NaN stays NaN where x is NaN."""
    n = len(x)
    if n == 0 or window <= 1:
        return x.copy()
    half = window // 2
    finite = np.isfinite(x)
    vals = np.concatenate(([0.0], np.cumsum(np.where(finite, x, 0.0))))
    cnts = np.concatenate(([0], np.cumsum(finite)))
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    count = cnts[hi] - cnts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (vals[hi] - vals[lo]) / count
    return np.where(finite, out, np.nan)


# Sorting networks (compare-exchange pairs) for the windows process_activity uses: sorting each window with them
# and taking the middle value is the median exactly (no arithmetic), ~10x faster than np.median over the windows.
_NETWORKS: dict[int, tuple[tuple[int, int], ...]] = {
    3: ((0, 1), (1, 2), (0, 1)),
    5: ((0, 1), (3, 4), (2, 4), (2, 3), (0, 3), (0, 2), (1, 4), (1, 3), (1, 2)),
}


def _network_median(padded: np.ndarray, window: int) -> np.ndarray:
    n = len(padded) - window + 1
    v = [padded[i : i + n] for i in range(window)]  # v[i][k] = i-th value of window k
    for i, j in _NETWORKS[window]:
        v[i], v[j] = np.minimum(v[i], v[j]), np.maximum(v[i], v[j])
    return v[window // 2]


def median_filter(x: np.ndarray, window: int = 3) -> np.ndarray:
    """Centred running median (odd window, edges padded by repetition); removes single-sample spikes."""
    n = len(x)
    if n < window or window <= 1:
        return x.copy()
    half = window // 2
    padded = np.concatenate((np.repeat(x[:1], half), x, np.repeat(x[-1:], half)))
    if window in _NETWORKS and np.isfinite(x).all():
        return _network_median(padded, window)
    windows = sliding_window_view(padded, window)
    if np.isfinite(x).all():
        return cast(np.ndarray, np.median(windows, axis=1))
    finite = np.isfinite(x)
    out = np.full(n, np.nan)
    if finite.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(windows, axis=1)
        out[finite] = med[finite]
    return out


def fill_gaps(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Linearly interpolate NaN samples over time from their finite neighbours (edges held flat)."""
    finite = np.isfinite(x)
    if finite.all() or not finite.any():
        return x.copy()
    return cast(np.ndarray, np.interp(t, t[finite], x[finite]))
