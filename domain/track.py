"""Columnar track of samples: the one shape every processing step reads and writes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CHANNELS: tuple[str, ...] = ("t", "lat", "lng", "alt", "hr", "cadence", "power", "speed")
# point-dict key -> Track channel
POINT_KEYS: dict[str, str] = {
    "time": "t",
    "lat": "lat",
    "lng": "lng",
    "altitude": "alt",
    "heart_rate": "hr",
    "cadence": "cadence",
    "power": "power",
    "speed": "speed",
}


def _column(points: Sequence[Mapping[str, float | None]], key: str) -> np.ndarray:
    """One float64 column from a list of point dicts; missing/None -> NaN."""
    return np.array([p.get(key) for p in points], dtype=np.float64).reshape(-1)


@dataclass(frozen=True, eq=False)
class Track:
    """Columnar samples: one numpy float64 array per channel, all the same length; NaN = missing."""

    t: np.ndarray
    lat: np.ndarray
    lng: np.ndarray
    alt: np.ndarray
    hr: np.ndarray
    cadence: np.ndarray
    power: np.ndarray
    speed: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.t)
        for name in CHANNELS:
            arr = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
            if len(arr) != n:
                raise ValueError(f"channel {name!r} has {len(arr)} samples, expected {n}")
            object.__setattr__(self, name, arr)

    @classmethod
    def from_points(cls, points: Sequence[Mapping[str, float | None]]) -> Track:
        """Build from point dicts with keys time, lat, lng, altitude, heart_rate, cadence, power, speed."""
        if len(points) == 0:
            return cls.empty()
        return cls(**{ch: _column(points, key) for key, ch in POINT_KEYS.items()})

    @classmethod
    def from_arrays(cls, t: Sequence[float] | np.ndarray, **channels: Sequence[float] | np.ndarray | None) -> Track:
        """Build from arrays; channels not given (or None) are all-NaN."""
        t_arr = np.asarray(t, dtype=np.float64).reshape(-1)
        cols = {ch: np.full(len(t_arr), np.nan) for ch in CHANNELS[1:]}
        for name, values in channels.items():
            if name not in cols:
                raise TypeError(f"unknown channel {name!r}")
            if values is not None:
                cols[name] = np.asarray(values, dtype=np.float64).reshape(-1)
        return cls(t=t_arr, **cols)

    @classmethod
    def empty(cls) -> Track:
        """A track with no samples."""
        return cls(**{ch: np.empty(0, dtype=np.float64) for ch in CHANNELS})

    def __len__(self) -> int:
        return len(self.t)

    def has_gps(self) -> bool:
        """True when at least one sample has both latitude and longitude."""
        return bool(np.any(np.isfinite(self.lat) & np.isfinite(self.lng)))

    def has(self, channel: str) -> bool:
        """True when the channel has at least one finite value."""
        return bool(np.any(np.isfinite(getattr(self, channel))))

    def take(self, index: np.ndarray) -> Track:
        """A new track with the samples selected by an index or boolean mask."""
        return Track(**{ch: getattr(self, ch)[index] for ch in CHANNELS})

    def replace(self, **channels: np.ndarray) -> Track:
        """A copy with some channels replaced."""
        return dataclasses.replace(self, **channels)

    def to_points(self) -> list[dict[str, float | None]]:
        """Point dicts (inverse of from_points); NaN -> None."""
        cols = {key: getattr(self, ch).tolist() for key, ch in POINT_KEYS.items()}
        return [
            {key: (None if v != v else v) for key, v in zip(cols, row, strict=False)}
            for row in zip(*cols.values(), strict=False)
        ]
