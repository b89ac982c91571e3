"""Strava-style streams for the API: per-point channels, optionally downsampled."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, cast

import numpy as np

from .motion import smoothed_speed
from .track import Track

RESOLUTION_POINTS: dict[str, int | None] = {"low": 100, "medium": 1000, "high": None}
STREAM_KEYS: tuple[str, ...] = ("time", "latlng", "distance", "altitude", "heartrate", "cadence", "watts", "velocity")
_CHANNEL = {"altitude": "alt", "heartrate": "hr", "cadence": "cadence", "watts": "power"}


def downsample(n_points: int, resolution: Literal["low", "medium", "high"] | str = "high") -> np.ndarray:
    """Indices of about low=100 / medium=1000 / high=all points, evenly spaced, first and last included."""
    if resolution not in RESOLUTION_POINTS:
        raise ValueError(f"resolution must be one of {sorted(RESOLUTION_POINTS)}")
    target = RESOLUTION_POINTS[resolution]
    if target is None or n_points <= target:
        return np.arange(n_points)
    return np.unique(np.round(np.linspace(0, n_points - 1, target)).astype(np.int64))


def _list(x: np.ndarray) -> list[float | None]:
    """Floats with NaN -> None."""
    return [None if v != v else v for v in x.tolist()]


def _latlng(track: Track, idx: np.ndarray) -> list[list[float] | None]:
    return [
        None if (a != a or b != b) else [a, b]
        for a, b in zip(track.lat[idx].tolist(), track.lng[idx].tolist(), strict=False)
    ]


def build_streams(
    processed_or_track: object,
    distance_stream: np.ndarray | None = None,
    keys: Iterable[str] = STREAM_KEYS,
    resolution: str = "high",
) -> dict[str, list[Any]]:
    """{key: per-point list} for Strava keys time, latlng, distance, altitude, heartrate, cadence, watts, velocity."""
    track = cast(Track, getattr(processed_or_track, "track", processed_or_track))
    dist = distance_stream if distance_stream is not None else getattr(processed_or_track, "distance_stream", None)
    if dist is None or len(dist) != len(track):
        dist = np.zeros(len(track))
    idx = downsample(len(track), resolution)
    velocity = getattr(processed_or_track, "velocity_stream", None)
    out: dict[str, list[Any]] = {}
    for key in keys:
        if key == "time":
            out[key] = _list(track.t[idx])
        elif key == "latlng":
            out[key] = _latlng(track, idx)
        elif key == "distance":
            out[key] = _list(np.asarray(dist)[idx])
        elif key in ("velocity", "velocity_smooth"):
            v = velocity if velocity is not None and len(velocity) == len(track) else smoothed_speed(track.t, dist)
            out[key] = _list(np.asarray(v)[idx])
        elif key in _CHANNEL:
            out[key] = _list(getattr(track, _CHANNEL[key])[idx])
        else:
            raise ValueError(f"unknown stream key {key!r}")
    return out
