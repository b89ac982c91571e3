"""TCX (Garmin Training Center) via defusedxml.ElementTree: the first Activity, its laps and trackpoints."""
from __future__ import annotations

from datetime import datetime, timezone
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as ET
import numpy as np

from ..splits import DeviceLap
from ..track import Track
from .common import FormatError, ParsedActivity, as_utc, column, map_sport, to_float

NS = {"tcd": "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2",
      "ax": "http://www.garmin.com/xmlschemas/ActivityExtension/v2"}


def _time(text: str | None) -> float | None:
    """ISO-8601 timestamp -> epoch seconds (None if absent or unparsable)."""
    if not text:
        return None
    try:
        return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00"))).timestamp()
    except ValueError:
        return None


def _text(el: Element, path: str) -> str | None:
    found = el.find(path, NS)
    return found.text if found is not None else None


def _point(tp: Element) -> tuple:
    cad = _text(tp, "tcd:Cadence") or _text(tp, ".//ax:RunCadence")
    return (_time(_text(tp, "tcd:Time")), _text(tp, "tcd:Position/tcd:LatitudeDegrees"),
            _text(tp, "tcd:Position/tcd:LongitudeDegrees"), _text(tp, "tcd:AltitudeMeters"),
            _text(tp, "tcd:HeartRateBpm/tcd:Value"), cad, _text(tp, ".//ax:Watts"), _text(tp, ".//ax:Speed"))


def _lap_totals(laps: list[Element]) -> dict:
    """File totals summed over laps, in FIT session field names."""
    def total(tag: str) -> float:
        """Sum of a numeric lap field (missing values skipped)."""
        return float(np.nansum([to_float(_text(lp, tag)) for lp in laps]))
    secs = [to_float(_text(lp, "tcd:TotalTimeSeconds")) for lp in laps]
    avgs = [to_float(_text(lp, "tcd:AverageHeartRateBpm/tcd:Value")) for lp in laps]
    w = [(a, s) for a, s in zip(avgs, secs) if np.isfinite(a) and np.isfinite(s) and s > 0]
    maxes = [m for m in (to_float(_text(lp, "tcd:MaximumHeartRateBpm/tcd:Value")) for lp in laps) if np.isfinite(m)]
    return {"total_timer_time": total("tcd:TotalTimeSeconds"), "total_distance": total("tcd:DistanceMeters"),
            "total_calories": total("tcd:Calories"), "max_heart_rate": max(maxes) if maxes else None,
            "avg_heart_rate": sum(a * s for a, s in w) / sum(s for _, s in w) if w else None}


def _device_laps(laps: list[Element], rows_by_lap: list[list[tuple]], t0: float) -> list[DeviceLap]:
    starts = [_time(lp.get("StartTime")) for lp in laps]
    out = []
    for k, (lap, start) in enumerate(zip(laps, starts)):
        if start is None:
            continue
        times = [r[0] for r in rows_by_lap[k] if r[0] is not None]
        end = starts[k + 1] if k + 1 < len(starts) and starts[k + 1] is not None else max(
            times + [start + max(to_float(_text(lap, "tcd:TotalTimeSeconds")), 0.0)])
        out.append(DeviceLap(start_offset_s=start - t0, end_offset_s=max(end, start) - t0))
    return out


def parse_tcx(data: bytes) -> ParsedActivity:
    """Decode the first Activity of a TCX file."""
    try:
        root = ET.fromstring(data)
    except Exception as exc:  # ParseError, DTDForbidden, EntitiesForbidden...
        raise FormatError(f"unreadable TCX file: {exc}") from exc
    act = root.find("tcd:Activities/tcd:Activity", NS)
    if act is None:
        raise FormatError("TCX file has no Activity")
    laps = act.findall("tcd:Lap", NS)
    rows_by_lap = [[_point(tp) for tp in lap.iterfind(".//tcd:Trackpoint", NS)] for lap in laps]
    rows = [r for lap_rows in rows_by_lap for r in lap_rows if r[0] is not None]
    starts = [t for t in (_time(lp.get("StartTime")) for lp in laps) if t is not None]
    id_time = _time(_text(act, "tcd:Id"))
    candidates = [r[0] for r in rows] + starts + ([id_time] if id_time is not None else [])
    if not candidates:
        raise FormatError("TCX activity has no timed points or laps")
    t0 = min([r[0] for r in rows] + starts) if rows or starts else id_time
    track = Track.from_arrays(t=column(rows, 0) - t0, lat=column(rows, 1), lng=column(rows, 2), alt=column(rows, 3),
                              hr=column(rows, 4), cadence=column(rows, 5), power=column(rows, 6),
                              speed=column(rows, 7)) if rows else Track.empty()
    return ParsedActivity(sport=map_sport(act.get("Sport")), start_time=datetime.fromtimestamp(t0, tz=timezone.utc),
                          track=track, laps=_device_laps(laps, rows_by_lap, t0), session_totals=_lap_totals(laps))
