"""Running metrics of a live workout, updated per batch in O(batch) time and O(1) memory.

The final numbers of a workout come from `process_activity` over every stored sample (the one code path); these
are the live approximations a watch shows: distance, moving time, pace now and on average, heart rate, split.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .geo import haversine
from .series import GAP_S
from .sports import MAX_SPEED_MPS, MOVING_SPEED_MPS, normalise_sport
from .track import Track

WINDOW_S = 15.0  # "current" pace and heart rate look back this far
SPLIT_M = 1000.0


@dataclass
class LiveMetrics:
    """Accumulated metrics; feed batches in time order with `add`, read with `view`."""

    sport: str = "other"
    points: int = 0
    first_t: float | None = None
    last_t: float | None = None
    last_lat: float = float("nan")
    last_lng: float = float("nan")
    distance_m: float = 0.0
    moving_s: float = 0.0
    hr_weighted: float = 0.0
    hr_seconds: float = 0.0
    last_hr: float | None = None
    split_index: int = 1
    split_start_t: float = 0.0
    split_start_moving: float = 0.0
    paused: bool = False
    recent: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=64))  # (t, distance, hr)

    def add(self, track: Track) -> None:
        """Fold a time-sorted batch in; points at or before the last one seen are ignored."""
        if len(track) == 0:
            return
        keep = track.t > (self.last_t if self.last_t is not None else -np.inf)
        for t, lat, lng, hr in zip(track.t[keep], track.lat[keep], track.lng[keep], track.hr[keep], strict=False):
            self._step(float(t), float(lat), float(lng), float(hr))

    def _step(self, t: float, lat: float, lng: float, hr: float) -> None:
        self.points += 1
        if self.first_t is None:
            self.first_t = self.split_start_t = t
        dt = t - self.last_t if self.last_t is not None else 0.0
        step = self._gps_step(lat, lng, dt)
        sport = normalise_sport(self.sport)
        if 0 < dt <= GAP_S and not self.paused and step / dt >= MOVING_SPEED_MPS[sport]:
            self.moving_s += dt
            self.distance_m += step
        if hr == hr and 0 < dt <= GAP_S:
            self.hr_weighted += hr * dt
            self.hr_seconds += dt
        if hr == hr:
            self.last_hr = hr
        self.last_t = t
        self.recent.append((t, self.distance_m, hr))
        self._advance_split(t)

    def _gps_step(self, lat: float, lng: float, dt: float) -> float:
        if lat != lat or lng != lng:
            return 0.0
        if self.last_lat != self.last_lat:
            self.last_lat, self.last_lng = lat, lng
            return 0.0
        step = float(haversine(self.last_lat, self.last_lng, lat, lng))
        if dt > 0 and step / dt > MAX_SPEED_MPS[normalise_sport(self.sport)]:
            return 0.0  # a GPS glitch: skip the point, keep the last good position
        self.last_lat, self.last_lng = lat, lng
        return step

    def _advance_split(self, t: float) -> None:
        while self.distance_m >= self.split_index * SPLIT_M:
            self.split_index += 1
            self.split_start_t = t
            self.split_start_moving = self.moving_s

    def current_speed(self) -> float | None:
        """Speed over the last WINDOW_S seconds (m/s)."""
        if len(self.recent) < 2:
            return None
        t_end, d_end, _ = self.recent[-1]
        older = [r for r in self.recent if t_end - r[0] <= WINDOW_S]
        t0, d0, _ = older[0]
        return (d_end - d0) / (t_end - t0) if t_end > t0 else None

    def view(self) -> dict[str, Any]:
        """The live metrics body."""
        speed = self.current_speed()
        avg_speed = self.distance_m / self.moving_s if self.moving_s > 0 else None
        threshold = MOVING_SPEED_MPS[normalise_sport(self.sport)]
        window_hr = [r[2] for r in self.recent if r[2] == r[2] and self.recent[-1][0] - r[0] <= WINDOW_S]
        return {
            "elapsed_time": (self.last_t - self.first_t)
            if self.first_t is not None and self.last_t is not None
            else 0.0,
            "moving_time": self.moving_s,
            "distance": self.distance_m,
            "current_speed": speed,
            "current_pace": _pace(speed),
            "average_speed": avg_speed,
            "average_pace": _pace(avg_speed),
            "current_heart_rate": float(np.mean(window_hr)) if window_hr else self.last_hr,
            "average_heart_rate": self.hr_weighted / self.hr_seconds if self.hr_seconds else None,
            "current_split": {
                "split": self.split_index,
                "distance": self.distance_m - (self.split_index - 1) * SPLIT_M,
                "moving_time": self.moving_s - self.split_start_moving,
            },
            "points_received": self.points,
            "last_sample_time": self.last_t,
            "paused": self.paused,
            "auto_paused": bool(speed is not None and speed < threshold and not self.paused),
        }


def _pace(speed: float | None) -> float | None:
    """Seconds per km."""
    return 1000.0 / speed if speed and speed > 0 else None
