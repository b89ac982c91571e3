"""Energy estimates: from heart rate (Keytel et al. 2005) or MET × weight × time."""

from __future__ import annotations

from .profile import DEFAULT_AGE, AthleteProfile
from .sports import MET


def calories_from_met(sport: str, weight_kg: float, seconds: float) -> float:
    """kcal = MET(sport) × weight (kg) × hours."""
    return MET.get(sport, MET["other"]) * weight_kg * seconds / 3600.0


def _keytel_per_min(hr: float, weight: float, age: float, sex: str | None) -> float:
    """kcal per minute at a heart rate (Keytel 2005); sex unknown -> mean of both equations."""
    male = (-55.0969 + 0.6309 * hr + 0.1988 * weight + 0.2017 * age) / 4.184
    female = (-20.4022 + 0.4472 * hr - 0.1263 * weight + 0.074 * age) / 4.184
    s = (sex or "").lower()
    return male if s in ("male", "m") else female if s in ("female", "f") else (male + female) / 2


def calories_from_hr(avg_hr: float, seconds: float, profile: AthleteProfile, on_year: int) -> float:
    """kcal from average heart rate over `seconds` of activity (never negative)."""
    age = profile.age(on_year)
    per_min = _keytel_per_min(avg_hr, profile.weight_kg, DEFAULT_AGE if age is None else age, profile.sex)
    return max(0.0, per_min * seconds / 60.0)
