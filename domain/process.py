"""process_activity: clean + measure a whole activity; the one code path for uploads, live finishes and imports.

Rules (documented behaviour):
- Points win: when the track has positions (or a speed channel), distance and times come from the points and
  any client-given distance_m / duration_s is ignored. A track without positions or speed uses distance_m.
- No points at all (manual entry): distance, duration and calories come from the given values;
  elapsed = moving = duration; calories absent -> MET × weight × duration.
- Moving time excludes pauses (no samples for > series.GAP_S = 10 s, unless a sparse step <= 60 s covered
  ground) and steps whose smoothed speed is below the sport's threshold (sports.MOVING_SPEED_MPS); distance
  accrues on moving steps only (see motion.py). Without any speed information every recorded second moves.
- Calories absent -> from average HR (Keytel 2005) over moving time when HR exists, else MET × weight × moving time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .best_efforts import best_efforts, best_power
from .calories import calories_from_hr, calories_from_met
from .clean import clean_track
from .elevation import gain_loss, smooth_altitude
from .motion import measure_motion
from .profile import AthleteProfile
from .routes import bbox, route_polylines
from .series import cumulative_parts
from .smoothing import median_filter
from .splits import Cumulative, DeviceLap, distance_splits, lap_metrics
from .sports import BEST_EFFORTS, MOVING_SPEED_MPS, SPORTS, normalise_sport
from .strength import StrengthSet, strength_summary
from .track import Track
from .zones import time_in_zones, zone_bounds

__all__ = ["SPORTS", "ProcessedActivity", "process_activity"]
_ARRAY_FIELDS = ("track", "distance_stream")


def _jsonable(v: Any) -> Any:
    """Plain Python (float/int/str/None, lists, dicts) with NaN/inf -> None."""
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


@dataclass(frozen=True, eq=False)
class ProcessedActivity:
    """Every number measured for one activity, plus the cleaned track it was measured on."""

    distance_m: float
    elapsed_s: float
    moving_s: float
    elevation_gain_m: float
    elevation_loss_m: float
    avg_speed_mps: float | None
    max_speed_mps: float | None
    avg_pace_s_per_km: float | None
    hr_avg: float | None
    hr_max: float | None
    hr_zones: list[dict[str, Any]]
    cadence_avg: float | None
    power_avg: float | None
    power_max: float | None
    laps: list[dict[str, Any]]
    splits: list[dict[str, Any]]
    best_efforts: list[dict[str, Any]]
    calories: float | None
    route_polyline: str | None
    summary_polyline: str | None
    bbox: list[float] | None
    points_count: int
    strength: dict[str, Any] | None
    track: Track
    distance_stream: np.ndarray
    sport: str = "other"
    velocity_stream: np.ndarray | None = None  # smoothed speed per point of `track` (m/s)

    def summary_dict(self) -> dict[str, Any]:
        """Everything except the per-point arrays, JSON-ready (plain floats/ints/None)."""
        skip = set(_ARRAY_FIELDS) | {"velocity_stream"}
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self) if f.name not in skip}


def _nanmax(x: np.ndarray) -> float | None:
    return float(np.nanmax(x)) if np.isfinite(x).any() else None


def _mean(x: np.ndarray, weights: np.ndarray) -> float | None:
    c_int, c_time = cumulative_parts(x, weights)
    return float(c_int[-1] / c_time[-1]) if len(c_time) and c_time[-1] > 0 else None


def _pace(speed: float | None) -> float | None:
    return 1000.0 / speed if speed else None


def _calories(
    sport: str, given: float | None, hr_avg: float | None, seconds: float, profile: AthleteProfile, year: int
) -> float | None:
    """Given calories, else HR-based, else MET-based; None when there is no time to base it on."""
    if given is not None:
        return float(given)
    if seconds <= 0:
        return None
    if hr_avg is not None:
        return calories_from_hr(hr_avg, seconds, profile, year)
    return calories_from_met(sport, profile.weight_kg, seconds)


def _manual(
    sport: str,
    profile: AthleteProfile,
    year: int,
    sets: Sequence[StrengthSet],
    duration_s: float | None,
    distance_m: float | None,
    calories: float | None,
) -> ProcessedActivity:
    """A manual entry: no points, figures from the given values."""
    dur, dist = float(duration_s or 0.0), float(distance_m or 0.0)
    speed = dist / dur if dur > 0 and dist > 0 else None
    return ProcessedActivity(
        distance_m=dist,
        elapsed_s=dur,
        moving_s=dur,
        elevation_gain_m=0.0,
        elevation_loss_m=0.0,
        avg_speed_mps=speed,
        max_speed_mps=None,
        avg_pace_s_per_km=_pace(speed),
        hr_avg=None,
        hr_max=None,
        hr_zones=[],
        cadence_avg=None,
        power_avg=None,
        power_max=None,
        laps=[],
        splits=[],
        best_efforts=[],
        calories=_calories(sport, calories, None, dur, profile, year),
        route_polyline=None,
        summary_polyline=None,
        bbox=None,
        points_count=0,
        strength=strength_summary(sets) if sets else None,
        track=Track.empty(),
        distance_stream=np.empty(0),
        sport=sport,
        velocity_stream=np.empty(0),
    )


def _hr_zones(hr: np.ndarray, secs: np.ndarray, profile: AthleteProfile, year: int) -> list[dict[str, Any]]:
    if not np.isfinite(hr).any():
        return []
    return time_in_zones(hr, secs, zone_bounds(profile.effective_max_hr(year), profile.effective_resting_hr()))


def _efforts(sport: str, t: np.ndarray, dist: np.ndarray, power: np.ndarray) -> list[dict[str, Any]]:
    out = best_efforts(t, dist, BEST_EFFORTS.get(sport, ())) if dist[-1] > 0 else []
    p = best_power(t, power)
    return [*out, p] if p is not None else out


def _channel_stats(tr: Track, recorded: np.ndarray, moving: np.ndarray) -> dict[str, Any]:
    """HR (median-3 smoothed), cadence (non-zero, moving) and power (time-weighted, zeros included) figures."""
    hr = median_filter(tr.hr, 3)
    hr_int, hr_time = cumulative_parts(hr, recorded)
    return {
        "hr": hr,
        "hr_int": hr_int,
        "hr_time": hr_time,
        "hr_avg": float(hr_int[-1] / hr_time[-1]) if hr_time[-1] > 0 else None,
        "hr_max": _nanmax(hr),
        "cadence_avg": _mean(np.where(tr.cadence > 0, tr.cadence, np.nan), moving),
        "power_avg": _mean(tr.power, recorded),
        "power_max": _nanmax(tr.power),
    }


def process_activity(
    sport: str,
    track: Track,
    *,
    profile: AthleteProfile = AthleteProfile(),
    start_year: int = 2024,
    device_laps: Sequence[DeviceLap] = (),
    sets: Sequence[StrengthSet] = (),
    duration_s: float | None = None,
    distance_m: float | None = None,
    calories: float | None = None,
) -> ProcessedActivity:
    """Clean + measure a whole activity: the one code path for uploads, live finishes and imports."""
    sport = normalise_sport(sport)
    tr = clean_track(track, sport)
    if len(tr) == 0:
        return _manual(sport, profile, start_year, sets, duration_s, distance_m, calories)
    mo = measure_motion(tr, MOVING_SPEED_MPS[sport])
    has_motion, moving_s = mo.speed is not None, float(mo.moving_s.sum())
    total = float(mo.distance[-1]) if has_motion else float(distance_m or 0.0)
    avg_speed = total / moving_s if moving_s > 0 and total > 0 else None
    ch = _channel_stats(tr, mo.recorded_s, mo.moving_s)
    alt = smooth_altitude(tr.alt)
    gain, loss = gain_loss(alt)
    cum = Cumulative(
        t=tr.t, dist=mo.distance, moving=np.cumsum(mo.moving_s), hr_int=ch["hr_int"], hr_time=ch["hr_time"], alt=alt
    )
    route, summary = route_polylines(tr.lat, tr.lng)
    return ProcessedActivity(
        distance_m=total,
        elapsed_s=float(tr.t[-1] - tr.t[0]),
        moving_s=moving_s,
        elevation_gain_m=gain,
        elevation_loss_m=loss,
        avg_speed_mps=avg_speed,
        max_speed_mps=float(mo.speed.max()) if mo.speed is not None else None,
        avg_pace_s_per_km=_pace(avg_speed),
        hr_avg=ch["hr_avg"],
        hr_max=ch["hr_max"],
        hr_zones=_hr_zones(ch["hr"], mo.recorded_s, profile, start_year),
        cadence_avg=ch["cadence_avg"],
        power_avg=ch["power_avg"],
        power_max=ch["power_max"],
        laps=lap_metrics(cum, device_laps),
        splits=distance_splits(cum) if has_motion else [],
        best_efforts=_efforts(sport, tr.t, mo.distance, tr.power),
        calories=_calories(sport, calories, ch["hr_avg"], moving_s or float(mo.recorded_s.sum()), profile, start_year),
        route_polyline=route,
        summary_polyline=summary,
        bbox=bbox(tr.lat, tr.lng),
        points_count=len(tr),
        strength=strength_summary(sets) if sets else None,
        track=tr,
        distance_stream=mo.distance,
        sport=sport,
        velocity_stream=mo.speed if has_motion else np.full(len(tr), np.nan),
    )
