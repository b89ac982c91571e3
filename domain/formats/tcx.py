"""TCX (Garmin Training Center) via a streaming lxml parse: the first Activity, its laps and trackpoints.

Per trackpoint: Time, Position/LatitudeDegrees+LongitudeDegrees, AltitudeMeters, HeartRateBpm/Value, Cadence
(else the ActivityExtension's RunCadence), and the ActivityExtension's Watts and Speed. Trackpoints without a
readable time are dropped. Totals are the laps' sums, in FIT session field names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from lxml import etree

from ..splits import DeviceLap
from ..track import Track
from .common import FormatError, ParsedActivity, floats, iso_seconds, map_sport, to_float
from .xmlstream import BATCH, RowReader, Rows, events, refuse_dtd

TCD = "{http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2}"
AX = "{http://www.garmin.com/xmlschemas/ActivityExtension/v2}"
_TRACKPOINT, _TRACK = TCD + "Trackpoint", TCD + "Track"
# row slots: time, lat, lng, alt, hr, cadence, power, speed, RunCadence, (last: unused)
_SLOTS = {
    TCD + "Time": 0,
    TCD + "LatitudeDegrees": 1,
    TCD + "LongitudeDegrees": 2,
    TCD + "AltitudeMeters": 3,
    TCD + "Value": 4,
    TCD + "Cadence": 5,
    AX + "Watts": 6,
    AX + "Speed": 7,
    AX + "RunCadence": 8,
}
_READER = RowReader(
    walk_tags=(TCD + "Trackpoint", *_SLOTS),
    width=10,
    point_tag=lambda tag: tag == TCD + "Trackpoint",
    slot_of=_SLOTS.get,
)


class _Lap:
    """One Lap element's own fields (its trackpoints are read separately) and its rows' range."""

    FIELDS = (
        "TotalTimeSeconds",
        "DistanceMeters",
        "Calories",
        "AverageHeartRateBpm/Value",
        "MaximumHeartRateBpm/Value",
    )

    def __init__(self, el: etree._Element, first_row: int, last_row: int) -> None:
        self.start = el.get("StartTime")
        self.rows = (first_row, last_row)
        self.fields = {
            name: to_float(el.findtext("/".join(TCD + part for part in name.split("/")))) for name in self.FIELDS
        }


def _first_activity_lap(lap: etree._Element | None) -> bool:
    """True for a Lap of an Activity directly under Activities (not a multisport session's or a course's)."""
    act = lap.getparent() if lap is not None else None
    return lap is not None and lap.tag == TCD + "Lap" and act is not None and _is_activity(act)


def _is_activity(el: etree._Element) -> bool:
    parent = el.getparent()
    return el.tag == TCD + "Activity" and parent is not None and parent.tag == TCD + "Activities"


def _read(data: bytes) -> tuple[Rows, list[_Lap], etree._Element | None]:
    """(trackpoint rows, laps, the first Activity element) — parsing stops at the end of the first Activity."""
    rows = Rows(_READER.width)
    laps: list[_Lap] = []
    lap_first = pending = 0
    for el in events(data, (_TRACKPOINT, _TRACK, TCD + "Lap", TCD + "Activity")):
        tag = el.tag
        if tag == _TRACKPOINT:
            pending += 1
            if pending >= BATCH:
                track = el.getparent()
                if track is not None and _first_activity_lap(track.getparent()):
                    _READER.read(track, rows, limit=pending)
                    pending = 0
        elif tag == _TRACK:
            if _first_activity_lap(el.getparent()):
                _READER.read(el, rows)
            else:
                del el[:]
            pending = 0
        elif tag == TCD + "Lap":
            if _first_activity_lap(el):
                laps.append(_Lap(el, lap_first, len(rows)))
                lap_first = len(rows)
                el.clear()
        elif _is_activity(el):  # the first Activity is complete: the rest of the file is not needed
            return rows, laps, el
    return rows, laps, None


def _lap_totals(laps: list[_Lap]) -> dict[str, Any]:
    """File totals summed over laps, in FIT session field names."""

    def total(tag: str) -> float:
        """Sum of a numeric lap field (missing values skipped)."""
        return float(np.nansum([lap.fields[tag] for lap in laps]))

    secs = [lap.fields["TotalTimeSeconds"] for lap in laps]
    avgs = [lap.fields["AverageHeartRateBpm/Value"] for lap in laps]
    w = [(a, s) for a, s in zip(avgs, secs, strict=True) if np.isfinite(a) and np.isfinite(s) and s > 0]
    maxes = [m for m in (lap.fields["MaximumHeartRateBpm/Value"] for lap in laps) if np.isfinite(m)]
    return {
        "total_timer_time": total("TotalTimeSeconds"),
        "total_distance": total("DistanceMeters"),
        "total_calories": total("Calories"),
        "max_heart_rate": max(maxes) if maxes else None,
        "avg_heart_rate": sum(a * s for a, s in w) / sum(s for _, s in w) if w else None,
    }


def _device_laps(laps: list[_Lap], times: np.ndarray, t0: float) -> list[DeviceLap]:
    starts = iso_seconds([lap.start for lap in laps])
    out = []
    for k, lap in enumerate(laps):
        start = starts[k]
        if not np.isfinite(start):
            continue
        lap_times = times[lap.rows[0] : lap.rows[1]]
        lap_times = lap_times[np.isfinite(lap_times)]
        if k + 1 < len(laps) and np.isfinite(starts[k + 1]):
            end = float(starts[k + 1])
        else:
            end = max([*lap_times.tolist(), start + max(lap.fields["TotalTimeSeconds"], 0.0)])
        out.append(DeviceLap(start_offset_s=float(start) - t0, end_offset_s=max(end, float(start)) - t0))
    return out


def parse_tcx(data: bytes) -> ParsedActivity:
    """Decode the first Activity of a TCX file."""
    refuse_dtd(data, "TCX")
    try:
        rows, laps, act = _read(data)
    except FormatError:
        raise
    except Exception as exc:  # lxml's XMLSyntaxError and friends
        raise FormatError(f"unreadable TCX file: {exc}") from exc
    if act is None:
        raise FormatError("TCX file has no Activity")
    cols = [rows.column(i) for i in range(rows.width)]
    times = iso_seconds(cols[0])
    starts = [t for t in iso_seconds([lap.start for lap in laps]).tolist() if np.isfinite(t)]
    id_time = iso_seconds([next((c.text for c in act if c.tag == TCD + "Id"), None)])[0]
    timed = np.isfinite(times)
    if not timed.any() and not starts and not np.isfinite(id_time):
        raise FormatError("TCX activity has no timed points or laps")
    t0 = min(times[timed].tolist() + starts) if timed.any() or starts else float(id_time)
    track = Track.empty()
    if timed.any():
        keep = np.flatnonzero(timed)
        c = [floats(col)[keep] for col in cols[1:9]]  # lat, lng, alt, hr, cadence, power, speed, RunCadence
        cad = np.where(np.isfinite(c[4]), c[4], c[7])
        track = Track.from_arrays(
            t=times[keep] - t0, lat=c[0], lng=c[1], alt=c[2], hr=c[3], cadence=cad, power=c[5], speed=c[6]
        )
    return ParsedActivity(
        sport=map_sport(act.get("Sport")),
        start_time=datetime.fromtimestamp(t0, tz=UTC),
        track=track,
        laps=_device_laps(laps, times, t0),
        session_totals=_lap_totals(laps),
    )
