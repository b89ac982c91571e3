"""Training load: per-activity Banister TRIMP (fallback duration × sport intensity), fitness, fatigue, form."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np

from ..profile import AthleteProfile
from .facts import ActivityFact

FITNESS_DAYS = 42  # CTL time constant
FATIGUE_DAYS = 7  # ATL time constant
# Banister's sex factor: TRIMP/min = HRr × a × e^(b × HRr).
SEX_FACTORS: dict[str, tuple[float, float]] = {"male": (0.64, 1.92), "female": (0.86, 1.67)}
# Without heart rate: TRIMP-equivalent per minute at a typical effort (≈ Banister at 55–65 % HR reserve).
SPORT_INTENSITY: dict[str, float] = {
    "running": 1.2,
    "cycling": 1.0,
    "swimming": 1.1,
    "hiking": 0.8,
    "walking": 0.5,
    "weightlifting": 0.8,
    "other": 0.8,
}


def athlete(profile: Mapping[str, Any] | None) -> AthleteProfile:
    """AthleteProfile from the stats profile dict (max_hr, resting_hr, sex, birth_year; all optional)."""
    p = profile or {}
    sex = p.get("sex")
    return AthleteProfile(
        max_hr=p.get("max_hr"),
        resting_hr=p.get("resting_hr"),
        birth_year=p.get("birth_year"),
        sex=sex if sex in SEX_FACTORS else None,
    )


def trimp_per_minute(hr_reserve: float, sex: str | None) -> float:
    """Banister TRIMP per minute at a fraction of HR reserve; unknown sex averages both factors."""
    x = min(max(hr_reserve, 0.0), 1.0)
    factors = [SEX_FACTORS[sex]] if sex in SEX_FACTORS else list(SEX_FACTORS.values())
    return sum(x * a * math.exp(b * x) for a, b in factors) / len(factors)


def activity_load(fact: ActivityFact, who: AthleteProfile) -> float:
    """Banister TRIMP from average HR and duration; without HR (or HR <= resting), minutes × sport intensity."""
    minutes = fact.duration_s / 60.0
    max_hr = who.effective_max_hr(fact.utc_start().year)
    rest = who.effective_resting_hr()
    if fact.hr_avg and math.isfinite(fact.hr_avg) and max_hr > rest and fact.hr_avg > rest:
        return minutes * trimp_per_minute((fact.hr_avg - rest) / (max_hr - rest), who.sex)
    return minutes * SPORT_INTENSITY.get(fact.sport, SPORT_INTENSITY["other"])


def ewma_at(days: np.ndarray, loads: np.ndarray, today: int, tau: float) -> float:
    """EWMA of daily loads on `today`: x_t = x_{t-1} + (load_t - x_{t-1})·(1 - e^(-1/tau)), x = 0 before."""
    keep = days <= today
    lam = 1.0 - math.exp(-1.0 / tau)
    weights = lam * np.exp(-(today - days[keep]) / tau)
    return float(np.dot(weights, loads[keep]))


def training_load(daily: Mapping[date, float], today: date) -> dict[str, float | str]:
    """Fitness (CTL, 42 d), fatigue (ATL, 7 d) and form (TSB = CTL - ATL) on `today`, from loads per local day."""
    ds = sorted(daily)
    days = np.array([d.toordinal() for d in ds], dtype=float)
    loads = np.array([daily[d] for d in ds], dtype=float)
    ctl = ewma_at(days, loads, today.toordinal(), FITNESS_DAYS)
    atl = ewma_at(days, loads, today.toordinal(), FATIGUE_DAYS)
    week = sum(v for d, v in daily.items() if 0 <= (today - d).days < 7)
    return {
        "fitness": round(ctl, 2),
        "fatigue": round(atl, 2),
        "form": round(ctl - atl, 2),
        "load_last_7_days": round(week, 2),
        "as_of": today.isoformat(),
    }
