"""Per-sport constants: plausible speeds, moving thresholds, MET values, best-effort targets."""

from __future__ import annotations

SPORTS: tuple[str, ...] = ("running", "cycling", "weightlifting", "walking", "hiking", "swimming", "other")

# Fastest plausible speed (m/s); GPS jumps implying more are glitches.
MAX_SPEED_MPS: dict[str, float] = {
    "running": 12.5,
    "walking": 7.0,
    "hiking": 7.0,
    "cycling": 35.0,
    "swimming": 5.0,
    "weightlifting": 12.5,
    "other": 60.0,
}
# Below this (smoothed) speed the athlete is stopped: the time is not moving time.
MOVING_SPEED_MPS: dict[str, float] = {
    "running": 0.5,
    "walking": 0.3,
    "hiking": 0.2,
    "cycling": 0.5,
    "swimming": 0.05,
    "weightlifting": 0.0,
    "other": 0.3,
}
# Compendium-of-Physical-Activities style MET values (kcal per kg per hour).
MET: dict[str, float] = {
    "running": 9.8,
    "cycling": 7.5,
    "walking": 3.5,
    "hiking": 6.0,
    "swimming": 7.0,
    "weightlifting": 5.0,
    "other": 5.0,
}
RUN_EFFORTS: tuple[tuple[str, float], ...] = (
    ("400m", 400.0),
    ("1k", 1000.0),
    ("1mile", 1609.344),
    ("5k", 5000.0),
    ("10k", 10000.0),
    ("half_marathon", 21097.5),
    ("marathon", 42195.0),
)
RIDE_EFFORTS: tuple[tuple[str, float], ...] = (
    ("5k", 5000.0),
    ("10k", 10000.0),
    ("20k", 20000.0),
    ("40k", 40000.0),
)
BEST_EFFORTS: dict[str, tuple[tuple[str, float], ...]] = {"running": RUN_EFFORTS, "cycling": RIDE_EFFORTS}


def normalise_sport(sport: str) -> str:
    """Map a sport name to one of SPORTS ('other' when unknown)."""
    s = (sport or "").strip().lower()
    return s if s in SPORTS else "other"
