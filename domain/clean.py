"""Cleaning recoverable noise: sort, merge duplicate timestamps, null impossible values, drop GPS glitches."""

from __future__ import annotations

from typing import cast

import numpy as np

from .geo import gps_mask, haversine, haversine_steps
from .sports import MAX_SPEED_MPS
from .track import CHANNELS, Track

# Plausible ranges per channel; values outside become NaN (missing), the sample itself is kept.
VALID_RANGE: dict[str, tuple[float, float]] = {
    "alt": (-500.0, 9000.0),
    "hr": (20.0, 250.0),
    "cadence": (0.0, 300.0),
    "power": (0.0, 3000.0),
    "speed": (0.0, 100.0),
}
GLITCH_MAX_RUN = 3  # a glitch is up to this many consecutive GPS fixes that jump away and back


def sanitise_values(track: Track) -> Track:
    """Turn out-of-range values into NaN: positions outside ±90/±180 or at (0, 0), HR <= 20 or > 250, etc."""
    cols = {}
    for name, (lo, hi) in VALID_RANGE.items():
        x = getattr(track, name)
        cols[name] = np.where((x >= lo) & (x <= hi), x, np.nan)
    ok = gps_mask(track.lat, track.lng) & ~((track.lat == 0) & (track.lng == 0))
    cols["lat"] = np.where(ok, track.lat, np.nan)
    cols["lng"] = np.where(ok, track.lng, np.nan)
    return track.replace(**cols)


def sort_and_merge(track: Track) -> Track:
    """Drop samples without a time, sort by time, and average samples sharing a timestamp."""
    finite = np.isfinite(track.t)
    if not finite.all():
        track = track.take(finite)
    if len(track) == 0 or bool(np.all(track.t[1:] > track.t[:-1])):  # already sorted, no duplicates
        return track
    uniq, inverse = np.unique(track.t, return_inverse=True)
    if len(uniq) == len(track):
        return track.take(np.argsort(track.t, kind="stable"))
    cols = {"t": uniq}
    for name in CHANNELS[1:]:
        x = getattr(track, name)
        finite = np.isfinite(x)
        sums = np.bincount(inverse, weights=np.where(finite, x, 0.0), minlength=len(uniq))
        counts = np.bincount(inverse, weights=finite.astype(float), minlength=len(uniq))
        with np.errstate(invalid="ignore", divide="ignore"):
            cols[name] = np.where(counts > 0, sums / counts, np.nan)
    return Track(**cols)


def _speed(t: np.ndarray, lat: np.ndarray, lng: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Implied speed (m/s) between fixes i and j; time differences below 1 s count as 1 s."""
    return cast(np.ndarray, haversine(lat[i], lng[i], lat[j], lng[j]) / np.maximum(np.abs(t[j] - t[i]), 1.0))


def glitch_mask(t: np.ndarray, lat: np.ndarray, lng: np.ndarray, max_speed: float) -> np.ndarray:
    """Boolean mask of isolated GPS glitches: runs of <= 3 fixes reached and left at impossible speed."""
    m = len(t)
    bad = np.zeros(m, dtype=bool)
    if m < 3:
        return bad
    fast = haversine_steps(lat, lng) / np.maximum(np.abs(np.diff(t)), 1.0) > max_speed  # step i -> i+1 (= _speed)
    if not fast.any():
        return bad
    for k in range(1, min(GLITCH_MAX_RUN, m - 2) + 1):  # a run needs a fix on each side
        s = np.flatnonzero(fast[: m - k - 1]) + 1  # glitch run s..s+k-1 entered by a fast step
        s = s[fast[s + k - 1]]  # ... and left by a fast step
        if len(s):
            s = s[_speed(t, lat, lng, s - 1, s + k) <= max_speed]  # skipping it gives a plausible step
            for off in range(k):
                bad[s + off] = True
    bad[0] |= bool(fast[0] and not fast[1])  # a bad first or last fix has one neighbour to judge by
    bad[-1] |= bool(fast[-1] and not fast[-2])
    return bad


def drop_gps_glitches(track: Track, max_speed: float, passes: int = 2) -> Track:
    """Blank (NaN) the position of GPS glitches; the samples' other channels are kept."""
    lat, lng = track.lat.copy(), track.lng.copy()
    for _ in range(passes):
        idx = np.flatnonzero(np.isfinite(lat) & np.isfinite(lng))
        bad = glitch_mask(track.t[idx], lat[idx], lng[idx], max_speed)
        if not bad.any():
            break
        lat[idx[bad]] = np.nan
        lng[idx[bad]] = np.nan
    return track.replace(lat=lat, lng=lng)


def clean_track(track: Track, sport: str) -> Track:
    """Full cleaning pipeline: sanitise values, sort + merge by time, drop GPS glitches."""
    track = sort_and_merge(sanitise_values(track))
    if track.has_gps():
        track = drop_gps_glitches(track, MAX_SPEED_MPS.get(sport, MAX_SPEED_MPS["other"]))
    return track
