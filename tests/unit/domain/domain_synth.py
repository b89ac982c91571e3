"""Synthetic tracks of known geometry for the domain tests (own spherical maths, not domain.geo)."""

from __future__ import annotations

import math

import numpy as np

from domain.track import Track

R = 6_371_008.8  # mean Earth radius (m) — the sphere the expected values are computed on
LAT0, LNG0 = 45.0, 7.0


def metres_to_lat(m: float | np.ndarray) -> float | np.ndarray:
    """Degrees of latitude spanning m metres along a meridian (exact on the sphere)."""
    return np.degrees(np.asarray(m) / R)


def north_line(speeds: list[tuple[float, float]], hz: float = 1.0, **channels: object) -> Track:
    """A run due north along a meridian: segments of (duration_s, speed_mps), sampled at hz.

    Distance along a meridian is exactly R·Δφ, so the expected distance is Σ duration × speed.
    """
    dt = 1.0 / hz
    t, d, now, dist = [0.0], [0.0], 0.0, 0.0
    for duration, speed in speeds:
        for _ in range(round(duration * hz)):
            now += dt
            dist += speed * dt
            t.append(now)
            d.append(dist)
    t_arr, d_arr = np.array(t), np.array(d)
    cols = {k: (v(t_arr, d_arr) if callable(v) else v) for k, v in channels.items()}
    return Track.from_arrays(t=t_arr, lat=LAT0 + metres_to_lat(d_arr), lng=np.full(len(t_arr), LNG0), **cols)


def circle_laps(laps: int, lap_m: float = 400.0, speed: float = 4.0, hz: float = 1.0) -> Track:
    """Running round a circular track of circumference lap_m at constant speed, sampled at hz."""
    r = lap_m / (2 * math.pi)
    n = round(laps * lap_m / speed * hz) + 1
    t = np.arange(n) / hz
    theta = speed * t / r
    north, east = r * np.sin(theta), r * (1 - np.cos(theta))
    lat = LAT0 + np.degrees(north / R)
    lng = LNG0 + np.degrees(east / (R * np.cos(np.radians(LAT0))))
    return Track.from_arrays(t=t, lat=lat, lng=lng, alt=np.full(n, 100.0), hr=np.full(n, 150.0))
