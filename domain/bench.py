"""CPU-time benchmark of process_activity on a synthetic all-channel track (used by loadtest)."""

from __future__ import annotations

import time

import numpy as np

from .process import process_activity
from .track import Track


def synthetic_track(n: int = 3600, seed: int = 7) -> Track:
    """A 1 Hz run of n points around a 1 km loop, with altitude, HR, cadence, power and speed channels."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    angle = t * 3.0 / 159.155  # 3 m/s around a circle of radius 159.155 m (1 km circumference)
    lat0, lng0, r = 45.0, 7.0, 159.155
    lat = lat0 + np.degrees(r * np.sin(angle) / 6_371_008.8) + rng.normal(0, 1e-6, n)
    lng = lng0 + np.degrees(r * np.cos(angle) / (6_371_008.8 * np.cos(np.radians(lat0)))) + rng.normal(0, 1e-6, n)
    return Track.from_arrays(
        t=t,
        lat=lat,
        lng=lng,
        alt=200 + 10 * np.sin(angle) + rng.normal(0, 0.3, n),
        hr=150 + 10 * np.sin(t / 300) + rng.normal(0, 2, n),
        cadence=np.full(n, 88.0),
        power=250 + rng.normal(0, 20, n),
        speed=np.full(n, 3.0),
    )


def time_process(n: int = 3600, repeat: int = 50, sport: str = "running") -> dict[str, float | int]:
    """CPU seconds per process_activity call on a synthetic n-point track: mean, min, max (and ms: mean, median)
    over `repeat` calls."""
    track = synthetic_track(n)
    process_activity(sport, track)  # warm-up
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        process_activity(sport, track)
        samples.append(time.process_time() - start)
    arr = np.array(samples)
    return {
        "points": n,
        "repeat": repeat,
        "cpu_s_mean": float(arr.mean()),
        "cpu_s_min": float(arr.min()),
        "cpu_s_max": float(arr.max()),
        "cpu_ms_mean": float(arr.mean() * 1000),
        "cpu_ms_median": float(np.median(arr) * 1000),
    }
