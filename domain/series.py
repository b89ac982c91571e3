"""Cumulative integrals over a time series, so any window's totals and means are two lookups."""

from __future__ import annotations

from typing import cast

import numpy as np

GAP_S: float = 10.0  # a time step longer than this is a pause (no samples): not recorded, not moving


def segment_seconds(t: np.ndarray, gap_s: float = GAP_S) -> np.ndarray:
    """Per-sample duration of the segment ending at it (first sample 0; pauses longer than gap_s give 0)."""
    dt = np.diff(t, prepend=t[:1]) if len(t) else np.empty(0)
    return np.where(dt <= gap_s, dt, 0.0)


def segment_values(x: np.ndarray) -> np.ndarray:
    """Per-segment value (segment ending at each sample): mean of both ends, or the one that exists."""
    prev = np.concatenate((x[:1], x[:-1]))
    both = np.isfinite(x) & np.isfinite(prev)
    return np.where(both, 0.5 * (x + prev), np.where(np.isfinite(x), x, prev))


def cumulative_parts(x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative ∫x dt, cumulative covered time) of the segment values, NaN segments skipped."""
    v = segment_values(x)
    ok = np.isfinite(v) & (weights > 0)
    return np.cumsum(np.where(ok, v * weights, 0.0)), np.cumsum(np.where(ok, weights, 0.0))


def window_mean(c_int: np.ndarray, c_time: np.ndarray) -> float | None:
    """Mean from cumulative parts already evaluated at a window's two ends (2-element arrays)."""
    dt = float(c_time[1] - c_time[0])
    return None if dt <= 0 else float((c_int[1] - c_int[0]) / dt)


def interp_first(xq: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """fp at the first position where non-decreasing xp reaches each xq (linear between samples)."""
    j, frac = first_reach(xq, xp)
    return cast(np.ndarray, fp[j - 1] + frac * (fp[j] - fp[j - 1]))


def first_reach(xq: np.ndarray, xp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(j, frac) such that interp_first(xq, xp, fp) == fp[j - 1] + frac * (fp[j] - fp[j - 1]) for any fp."""
    n = len(xp)
    j = np.clip(np.searchsorted(xp, xq, side="left"), 1, n - 1)
    x0, x1 = xp[j - 1], xp[j]
    span = x1 - x0
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(span > 0, (xq - x0) / span, 1.0)
    return j, np.clip(frac, 0.0, 1.0)
