"""What every parser returns, sport-name mapping and small shared helpers."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Sequence

import numpy as np

from ..splits import DeviceLap
from ..track import Track

SPORT_ALIASES: dict[str, str] = {
    "running": "running", "run": "running", "trail_running": "running", "treadmill_running": "running",
    "street_running": "running", "track_running": "running",
    "cycling": "cycling", "biking": "cycling", "bike": "cycling", "road_biking": "cycling",
    "mountain_biking": "cycling", "indoor_cycling": "cycling", "virtual_ride": "cycling", "ride": "cycling",
    "gravel_cycling": "cycling", "e_bike": "cycling",
    "walking": "walking", "walk": "walking", "hiking": "hiking", "hike": "hiking",
    "swimming": "swimming", "swim": "swimming", "lap_swimming": "swimming", "open_water_swimming": "swimming",
    "strength_training": "weightlifting", "weightlifting": "weightlifting", "weight_training": "weightlifting",
}


class FormatError(ValueError):
    """The bytes are not a readable file of the claimed format (HTTP layer: 422)."""


@dataclass(frozen=True, eq=False)
class ParsedActivity:
    """A decoded workout file: sport, UTC start, samples, device laps and the device's own totals."""

    sport: str
    start_time: datetime
    track: Track
    laps: list[DeviceLap] = field(default_factory=list)
    session_totals: dict | None = None
    sessions: list[dict] = field(default_factory=list)  # FIT: every session message (multisport: several)
    name: str | None = None
    timed: bool = True  # False when the file had no usable timestamps and times were synthesised


def map_sport(*names: str | None) -> str:
    """First recognised name among e.g. (sub_sport, sport) mapped to a Stride sport; else "other"."""
    for name in names:
        key = str(name or "").strip().lower().replace(" ", "_").replace("-", "_")
        if key in SPORT_ALIASES:
            return SPORT_ALIASES[key]
    return "other"


def as_utc(dt: datetime) -> datetime:
    """Aware UTC datetime (naive values are taken to be UTC)."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def to_float(v: object) -> float:
    """float(v), or NaN for None / unparsable values."""
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def column(rows: Sequence[Sequence[object]], i: int) -> np.ndarray:
    """Column i of row tuples as float64 (None -> NaN)."""
    return np.array([to_float(r[i]) for r in rows], dtype=np.float64)
