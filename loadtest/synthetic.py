"""Synthetic workouts of known geometry for tests and benchmarks."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

EARTH_R = 6_371_008.8
TRACK_LAP_M = 400.0


def oval_run(
    laps: int = 25,
    speed_mps: float = 4.0,
    dt_s: float = 1.0,
    hr: float = 150.0,
    lat0: float = 46.05,
    lng0: float = 14.50,
) -> list[dict[str, Any]]:
    """A run of `laps` circular 400 m laps at constant speed: points at `dt_s` intervals."""
    radius = TRACK_LAP_M / (2 * math.pi)
    n = int(laps * TRACK_LAP_M / speed_mps / dt_s)
    points = []
    for i in range(n + 1):
        angle = (i * dt_s * speed_mps) / radius
        north, east = radius * math.sin(angle), radius * (1 - math.cos(angle))
        lat = lat0 + math.degrees(north / EARTH_R)
        lng = lng0 + math.degrees(east / (EARTH_R * math.cos(math.radians(lat0))))
        points.append({"time": i * dt_s, "lat": lat, "lng": lng, "altitude": 300.0, "heart_rate": hr, "cadence": 170.0})
    return points


def straight_ride(seconds: int = 3600, speed_mps: float = 8.0, with_power: bool = True) -> list[dict[str, Any]]:
    """An eastward ride at constant speed with HR, cadence and power: one point per second."""
    lat0, lng0 = 45.0, 7.0
    points = []
    for i in range(seconds):
        east = i * speed_mps
        lng = lng0 + math.degrees(east / (EARTH_R * math.cos(math.radians(lat0))))
        p = {
            "time": float(i),
            "lat": lat0,
            "lng": lng,
            "altitude": 200.0 + 20 * math.sin(i / 300),
            "heart_rate": 140.0 + 10 * math.sin(i / 60),
            "cadence": 90.0,
            "speed": speed_mps,
        }
        if with_power:
            p["power"] = 200.0 + 20 * math.sin(i / 45)
        points.append(p)
    return points


def upload_body(
    points: list[dict[str, Any]],
    sport: str = "running",
    client_id: str | None = None,
    start: dt.datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A POST /activities body."""
    start = start or dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC)
    body = {"type": sport, "start_time": start.isoformat(), "data_points": points, **extra}
    if client_id is not None:
        body["client_id"] = client_id
    return body


def shuffled(points: list[dict[str, Any]], seed: int = 7) -> list[dict[str, Any]]:
    """The same points in a random order, with a few exact duplicates."""
    rng = random.Random(seed)
    out = points + [dict(points[i]) for i in rng.sample(range(len(points)), 5)]
    rng.shuffle(out)
    return out
