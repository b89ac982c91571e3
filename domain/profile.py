"""The athlete facts that metrics depend on (weight, heart-rate limits, age, sex)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_HR = 190
DEFAULT_RESTING_HR = 60
DEFAULT_AGE = 35


@dataclass(frozen=True)
class AthleteProfile:
    """Athlete physiology used for zones and calories; None = unknown (defaults apply)."""

    weight_kg: float = 70.0
    max_hr: int | None = None
    resting_hr: int | None = None
    birth_year: int | None = None
    sex: str | None = None  # "male" / "female" / None

    def age(self, on_year: int) -> int | None:
        """Age in whole years in `on_year`, or None when the birth year is unknown."""
        if self.birth_year is None:
            return None
        return max(0, on_year - self.birth_year)

    def effective_max_hr(self, on_year: int) -> int:
        """Max HR: the user's value, else Tanaka 208 - 0.7 × age, else 190."""
        if self.max_hr:
            return int(self.max_hr)
        age = self.age(on_year)
        return DEFAULT_MAX_HR if age is None else round(208 - 0.7 * age)

    def effective_resting_hr(self) -> int:
        """Resting HR: the user's value, else 60."""
        return int(self.resting_hr) if self.resting_hr else DEFAULT_RESTING_HR
