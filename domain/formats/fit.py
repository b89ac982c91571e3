"""FIT (Garmin/ANT) files via fitdecode.

Multisport files: all records go into one track; `sessions` lists every session message; `session_totals`
is the only session, or for several sessions their sum (distance, times, ascent, calories), the max of
max_heart_rate and the timer-weighted avg_heart_rate; the sport is that of the longest session.
"""
from __future__ import annotations

import io
from datetime import datetime, timezone

import fitdecode

from ..splits import DeviceLap
from ..track import Track
from .common import FormatError, ParsedActivity, as_utc, column, map_sport

SEMICIRCLE_DEG = 180.0 / 2 ** 31
SESSION_FIELDS = ("start_time", "sport", "sub_sport", "total_distance", "total_timer_time",
                  "total_elapsed_time", "avg_heart_rate", "max_heart_rate", "total_ascent", "total_descent",
                  "total_calories", "avg_speed", "max_speed", "enhanced_avg_speed", "enhanced_max_speed",
                  "avg_power", "max_power", "avg_cadence", "max_cadence", "normalized_power")
_SUMMED = ("total_distance", "total_timer_time", "total_elapsed_time", "total_ascent", "total_descent",
           "total_calories")


def _value(msg: fitdecode.FitDataMessage, *names: str) -> object:
    """First present, non-None value among field names."""
    for name in names:
        v = msg.get_value(name, fallback=None)
        if v is not None:
            return v
    return None


def _record_row(msg: fitdecode.FitDataMessage) -> tuple | None:
    ts = msg.get_value("timestamp", fallback=None)
    if not isinstance(ts, datetime):
        return None
    return (as_utc(ts).timestamp(), _value(msg, "position_lat"), _value(msg, "position_long"),
            _value(msg, "enhanced_altitude", "altitude"), _value(msg, "heart_rate"), _value(msg, "cadence"),
            _value(msg, "power"), _value(msg, "enhanced_speed", "speed"))


def _session_dict(msg: fitdecode.FitDataMessage) -> dict:
    d = {name: msg.get_value(name, fallback=None) for name in SESSION_FIELDS}
    if isinstance(d["start_time"], datetime):
        d["start_time"] = as_utc(d["start_time"])
    corners = [msg.get_value(k, fallback=None) for k in ("swc_lat", "swc_long", "nec_lat", "nec_long")]
    if all(isinstance(c, int) for c in corners):  # the device's own bounding box, degrees
        d["bbox"] = [c * SEMICIRCLE_DEG for c in corners]
    return {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in d.items()}


def combine_sessions(sessions: list[dict]) -> dict | None:
    """One totals dict for the file (see module docstring)."""
    if len(sessions) <= 1:
        return sessions[0] if sessions else None
    out = dict(sessions[0])
    for k in _SUMMED:
        vals = [s[k] for s in sessions if s.get(k) is not None]
        out[k] = float(sum(vals)) if vals else None
    hrs = [s["max_heart_rate"] for s in sessions if s.get("max_heart_rate") is not None]
    out["max_heart_rate"] = max(hrs) if hrs else None
    w = [(s["avg_heart_rate"], s.get("total_timer_time") or 0.0) for s in sessions if s.get("avg_heart_rate")]
    tw = sum(x for _, x in w)
    out["avg_heart_rate"] = sum(h * x for h, x in w) / tw if tw > 0 else None
    out["sport"] = max(sessions, key=lambda s: s.get("total_elapsed_time") or 0.0).get("sport")
    return out


def _read(data: bytes) -> tuple[list[tuple], list[tuple], list[dict], list[object]]:
    rows, laps, sessions, sports = [], [], [], []
    with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.WARN) as reader:
        for frame in reader:
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            if frame.name == "record":
                row = _record_row(frame)
                if row is not None:
                    rows.append(row)
            elif frame.name == "lap":
                laps.append((frame.get_value("start_time", fallback=None),
                             frame.get_value("timestamp", fallback=None),
                             frame.get_value("total_elapsed_time", fallback=None)))
            elif frame.name == "session":
                sessions.append(_session_dict(frame))
            elif frame.name == "sport":
                sports.append((frame.get_value("sub_sport", fallback=None), frame.get_value("sport", fallback=None)))
    return rows, laps, sessions, sports


def _device_laps(laps: list[tuple], t0: float) -> list[DeviceLap]:
    out = []
    for start, end, elapsed in laps:
        if not isinstance(start, datetime):
            continue
        s = as_utc(start).timestamp() - t0
        e = as_utc(end).timestamp() - t0 if isinstance(end, datetime) else s + float(elapsed or 0.0)
        out.append(DeviceLap(start_offset_s=s, end_offset_s=max(e, s)))
    return out


def parse_fit(data: bytes) -> ParsedActivity:
    """Decode a FIT activity file (positions in semicircles -> degrees)."""
    try:
        rows, laps, sessions, sports = _read(data)
    except Exception as exc:  # fitdecode raises many types on corrupt input
        raise FormatError(f"unreadable FIT file: {exc}") from exc
    totals = combine_sessions(sessions)
    starts = [s["start_time"] for s in sessions if isinstance(s.get("start_time"), datetime)]
    if not rows and not starts:
        raise FormatError("FIT file has no records and no session")
    t0 = min([s.timestamp() for s in starts] + ([min(r[0] for r in rows)] if rows else []))
    track = Track.from_arrays(
        t=column(rows, 0) - t0, lat=column(rows, 1) * SEMICIRCLE_DEG, lng=column(rows, 2) * SEMICIRCLE_DEG,
        alt=column(rows, 3), hr=column(rows, 4), cadence=column(rows, 5), power=column(rows, 6),
        speed=column(rows, 7)) if rows else Track.empty()
    sub, sport = (totals.get("sub_sport"), totals.get("sport")) if totals else (sports[0] if sports else (None, None))
    return ParsedActivity(sport=map_sport(sub, sport), start_time=datetime.fromtimestamp(t0, tz=timezone.utc),
                          track=track, laps=_device_laps(laps, t0), session_totals=totals, sessions=sessions)
