"""What every parser returns, sport-name mapping and small shared helpers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..splits import DeviceLap
from ..track import Track

SPORT_ALIASES: dict[str, str] = {
    "running": "running",
    "run": "running",
    "trail_running": "running",
    "treadmill_running": "running",
    "street_running": "running",
    "track_running": "running",
    "cycling": "cycling",
    "biking": "cycling",
    "bike": "cycling",
    "road_biking": "cycling",
    "mountain_biking": "cycling",
    "indoor_cycling": "cycling",
    "virtual_ride": "cycling",
    "ride": "cycling",
    "gravel_cycling": "cycling",
    "e_bike": "cycling",
    "walking": "walking",
    "walk": "walking",
    "hiking": "hiking",
    "hike": "hiking",
    "swimming": "swimming",
    "swim": "swimming",
    "lap_swimming": "swimming",
    "open_water_swimming": "swimming",
    "strength_training": "weightlifting",
    "weightlifting": "weightlifting",
    "weight_training": "weightlifting",
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
    session_totals: dict[str, Any] | None = None
    sessions: list[dict[str, Any]] = field(default_factory=list)  # FIT: every session message (multisport: several)
    name: str | None = None
    timed: bool = True  # False when the file had no usable timestamps and times were synthesised


def map_sport(*names: object) -> str:
    """First recognised name among e.g. (sub_sport, sport) mapped to a Stride sport; else "other"."""
    for name in names:
        key = str(name or "").strip().lower().replace(" ", "_").replace("-", "_")
        if key in SPORT_ALIASES:
            return SPORT_ALIASES[key]
    return "other"


def as_utc(dt: datetime) -> datetime:
    """Aware UTC datetime (naive values are taken to be UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def to_float(v: object) -> float:
    """float(v), or NaN for None / unparsable values."""
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def column(rows: Sequence[Sequence[object]], i: int) -> np.ndarray:
    """Column i of row tuples as float64 (None -> NaN)."""
    return np.array([to_float(r[i]) for r in rows], dtype=np.float64)


def floats(values: Sequence[str | None]) -> np.ndarray:
    """float64 array of number texts (None / unparsable -> NaN); one C-level pass when every value parses."""
    if None in values:
        out = np.full(len(values), np.nan)
        idx = [i for i, v in enumerate(values) if v is not None]
        if idx:
            out[idx] = floats([values[i] for i in idx])
        return out
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        return np.array([to_float(v) for v in values], dtype=np.float64)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d{1,15})?"
    r"(Z|[+\-\u2212]\d{2}(?::?\d{2})?)?"
)


def _iso_one(text: str) -> float | None:
    """Epoch seconds of one ISO-8601 timestamp (no zone = UTC; fraction truncated to µs), None if unreadable."""
    m = _ISO.fullmatch(text.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    us = int((m.group(7) or ".")[1:7].ljust(6, "0"))
    offset = 0
    if m.group(8) and m.group(8) != "Z":
        z = m.group(8).replace(":", "")
        offset = (-1 if z[0] in "-\u2212" else 1) * (int(z[1:3]) * 60 + (int(z[3:5]) if len(z) >= 5 else 0))
    try:
        dt = datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)
    except ValueError:
        return None
    return (dt - EPOCH).total_seconds() - offset * 60


def iso_seconds(values: Sequence[str | None], strict: bool = False) -> np.ndarray:
    """Epoch seconds of ISO-8601 timestamps (None -> NaN; unreadable -> NaN, or ValueError if strict).

    Fast path: when every value is "YYYY-MM-DDThh:mm:ss[.f]Z" (what devices write), numpy parses them all at once.
    """
    present = [v for v in values if v is not None]
    if present and len(present) == len(values):
        bare = [v[:-1] for v in values if v[-1:] == "Z" and v[10:11] == "T"]  # type: ignore[index]
        if len(bare) == len(values):
            try:
                return np.array(bare, dtype="datetime64[us]").astype(np.int64) / 1e6
            except ValueError:
                pass
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is None:
            continue
        sec = _iso_one(v)
        if sec is None:
            if strict:
                raise ValueError(f"unreadable time {v!r}")
            continue
        out[i] = sec
    return out
