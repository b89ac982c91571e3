"""GPX 1.0/1.1 via gpxpy, with Garmin TrackPointExtension heart rate, cadence (and power/speed if present)."""
from __future__ import annotations

from datetime import datetime, timezone

import gpxpy
import gpxpy.gpx
import numpy as np

from ..track import Track
from .common import FormatError, ParsedActivity, as_utc, column, map_sport, to_float
from .timing import fill_times

EXTENSION_TAGS: dict[str, int] = {"hr": 4, "heartrate": 4, "cad": 5, "cadence": 5, "power": 6, "watts": 6, "speed": 7}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _extensions(point: gpxpy.gpx.GPXTrackPoint, row: list) -> None:
    """Fill hr/cadence/power/speed slots of row from the point's extension elements."""
    for ext in point.extensions or ():
        for el in ext.iter():
            slot = EXTENSION_TAGS.get(_local(el.tag))
            if slot is not None and el.text:
                row[slot] = to_float(el.text.strip())


def _rows(doc: gpxpy.gpx.GPX) -> list[list]:
    """[time, lat, lng, ele, hr, cad, power, speed, segment number] per point; routes when there are no tracks."""
    rows = []
    segments = [seg.points for trk in doc.tracks for seg in trk.segments] or [r.points for r in doc.routes]
    for k, points in enumerate(segments):
        for p in points:
            ts = as_utc(p.time).timestamp() if p.time else None
            row = [ts, p.latitude, p.longitude, p.elevation, None, None, None, None, k]
            _extensions(p, row)
            rows.append(row)
    return rows


def parse_gpx(data: bytes) -> ParsedActivity:
    """Decode a GPX file (tracks, else routes); untimed points get times interpolated along distance."""
    if b"<!ENTITY" in data or b"<!DOCTYPE" in data:
        raise FormatError("GPX with a DTD/entities is refused")
    try:
        doc = gpxpy.parse(data.decode("utf-8-sig", errors="replace"))
    except Exception as exc:  # gpxpy raises GPXException and XML errors
        raise FormatError(f"unreadable GPX file: {exc}") from exc
    rows = _rows(doc)
    if not rows:
        raise FormatError("GPX file has no track or route points")
    abs_t, lat, lng = column(rows, 0), column(rows, 1), column(rows, 2)
    t, timed = fill_times(abs_t, lat, lng, column(rows, 8))
    t0 = float(t.min())
    if not np.isfinite(abs_t).any():  # synthetic times: anchor at the file's own time if it has one
        t0 = as_utc(doc.time).timestamp() if doc.time else 0.0
        t = t - t.min() + t0
    track = Track.from_arrays(t=t - t0, lat=lat, lng=lng,
                              alt=column(rows, 3), hr=column(rows, 4), cadence=column(rows, 5),
                              power=column(rows, 6), speed=column(rows, 7))
    kind = doc.tracks[0].type if doc.tracks else None
    name = (doc.tracks[0].name if doc.tracks else None) or doc.name
    return ParsedActivity(sport=map_sport(kind), start_time=datetime.fromtimestamp(t0, tz=timezone.utc),
                          track=track, laps=[], session_totals=None, name=name, timed=timed)
