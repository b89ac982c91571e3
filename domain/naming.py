"""Default activity names, like 'Morning Run'."""

from __future__ import annotations

import datetime as dt

_NOUNS = {
    "running": "Run",
    "cycling": "Ride",
    "weightlifting": "Weight Training",
    "walking": "Walk",
    "hiking": "Hike",
    "swimming": "Swim",
}


def default_name(sport: str, start: dt.datetime) -> str:
    """'Morning Run' and friends, from the hour of `start` (pass it in the athlete's local time)."""
    hour = start.hour
    part = (
        "Morning" if 5 <= hour < 12 else "Afternoon" if 12 <= hour < 17 else "Evening" if 17 <= hour < 21 else "Night"
    )
    return f"{part} {_NOUNS.get(sport, 'Activity')}"
