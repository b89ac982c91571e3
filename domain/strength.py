"""Weightlifting: sets, total volume and estimated one-rep max per exercise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StrengthSet:
    """One set: exercise name, repetitions, load in kg, optional RPE and rest after it."""

    exercise: str
    reps: int
    weight_kg: float
    rpe: float | None = None
    rest_s: float | None = None


def estimated_1rm(weight_kg: float, reps: int) -> float:
    """Epley one-rep max: w × (1 + reps / 30); a single is the weight itself."""
    if reps <= 0 or weight_kg <= 0:
        return 0.0
    return float(weight_kg) if reps == 1 else weight_kg * (1.0 + reps / 30.0)


def strength_summary(sets: Sequence[StrengthSet]) -> dict[str, Any]:
    """{"total_volume_kg": Σ reps × kg, "sets": count, "best_1rm": {exercise: best Epley 1RM kg}}."""
    best: dict[str, float] = {}
    for s in sets:
        e1rm = estimated_1rm(s.weight_kg, s.reps)
        if e1rm > 0:
            best[s.exercise] = max(best.get(s.exercise, 0.0), round(e1rm, 2))
    volume = sum(max(s.reps, 0) * max(s.weight_kg, 0.0) for s in sets)
    return {"total_volume_kg": float(volume), "sets": len(sets), "best_1rm": best}
