"""Pure processing layer: cleaning, metrics, splits, best efforts, routes, file formats. numpy + stdlib only."""

from .process import SPORTS, ProcessedActivity, process_activity
from .profile import AthleteProfile
from .splits import DeviceLap
from .strength import StrengthSet
from .track import Track

__all__ = ["SPORTS", "AthleteProfile", "DeviceLap", "ProcessedActivity", "StrengthSet", "Track", "process_activity"]
