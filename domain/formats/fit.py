"""FIT (Garmin/ANT) files: decoded by fitfast (Rust, columnar), or by fitdecode (pure Python) for files fitfast
refuses (e.g. a bad CRC, which fitdecode only warns about) or where fitfast is not installed. Both give the same
ParsedActivity (tests/unit/domain/test_fixtures_fit_decoders.py checks every fixture); fitdecode's profile names
the enums (sport, sub_sport) in both.

Multisport files: all records go into one track; `sessions` lists every session message; `session_totals`
is the only session, or for several sessions their sum (distance, times, ascent, calories), the max of
max_heart_rate and the timer-weighted avg_heart_rate; the sport is that of the longest session.
"""

from __future__ import annotations

import importlib
import io
from datetime import UTC, datetime
from typing import Any

import fitdecode
import fitdecode.profile
import numpy as np

try:  # the fast decoder; fitdecode alone is enough to read every file
    fitfast: Any = importlib.import_module("fitfast")
except ImportError:  # pragma: no cover - a platform without a fitfast wheel
    fitfast = None

from ..splits import DeviceLap
from ..track import Track
from .common import FormatError, ParsedActivity, as_utc, column, map_sport

SEMICIRCLE_DEG = 180.0 / 2**31
SESSION_FIELDS = (
    "start_time",
    "sport",
    "sub_sport",
    "total_distance",
    "total_timer_time",
    "total_elapsed_time",
    "avg_heart_rate",
    "max_heart_rate",
    "total_ascent",
    "total_descent",
    "total_calories",
    "avg_speed",
    "max_speed",
    "enhanced_avg_speed",
    "enhanced_max_speed",
    "avg_power",
    "max_power",
    "avg_cadence",
    "max_cadence",
    "normalized_power",
)
_SUMMED = (
    "total_distance",
    "total_timer_time",
    "total_elapsed_time",
    "total_ascent",
    "total_descent",
    "total_calories",
)


def _value(msg: fitdecode.FitDataMessage, *names: str) -> object:
    """First present, non-None value among field names."""
    for name in names:
        v = msg.get_value(name, fallback=None)
        if v is not None:
            return v
    return None


def _record_row(msg: fitdecode.FitDataMessage) -> tuple[object, ...] | None:
    ts = msg.get_value("timestamp", fallback=None)
    if not isinstance(ts, datetime):
        return None
    return (
        as_utc(ts).timestamp(),
        _value(msg, "position_lat"),
        _value(msg, "position_long"),
        _value(msg, "enhanced_altitude", "altitude"),
        _value(msg, "heart_rate"),
        _value(msg, "cadence"),
        _value(msg, "power"),
        _value(msg, "enhanced_speed", "speed"),
    )


def _session_dict(msg: fitdecode.FitDataMessage) -> dict[str, Any]:
    d = {name: msg.get_value(name, fallback=None) for name in SESSION_FIELDS}
    if isinstance(d["start_time"], datetime):
        d["start_time"] = as_utc(d["start_time"])
    corners = [msg.get_value(k, fallback=None) for k in ("swc_lat", "swc_long", "nec_lat", "nec_long")]
    if all(isinstance(c, int) for c in corners):  # the device's own bounding box, degrees
        d["bbox"] = [c * SEMICIRCLE_DEG for c in corners]
    return {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in d.items()}


def combine_sessions(sessions: list[dict[str, Any]]) -> dict[str, Any] | None:
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


# What both decoders hand over: record columns (epoch seconds, semicircles, ...: rows with a timestamp only),
# laps as (start, end, elapsed) epoch seconds (None when absent), session dicts, (sub_sport, sport) of sport messages.
Lap = tuple[float | None, float | None, float | None]
Decoded = tuple[dict[str, np.ndarray], list[Lap], list[dict[str, Any]], list[tuple[object, object]]]
RECORD_COLUMNS = ("t", "lat", "lng", "alt", "hr", "cadence", "power", "speed")


def _epoch(v: object) -> float | None:
    return as_utc(v).timestamp() if isinstance(v, datetime) else None


def _read_fitdecode(data: bytes) -> Decoded:
    rows: list[tuple[object, ...]] = []
    laps: list[Lap] = []
    sessions: list[dict[str, Any]] = []
    sports: list[tuple[object, object]] = []
    with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.WARN) as reader:
        for frame in reader:
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            if frame.name == "record":
                row = _record_row(frame)
                if row is not None:
                    rows.append(row)
            elif frame.name == "lap":
                elapsed = frame.get_value("total_elapsed_time", fallback=None)
                laps.append(
                    (
                        _epoch(frame.get_value("start_time", fallback=None)),
                        _epoch(frame.get_value("timestamp", fallback=None)),
                        elapsed,
                    )
                )
            elif frame.name == "session":
                sessions.append(_session_dict(frame))
            elif frame.name == "sport":
                sports.append((frame.get_value("sub_sport", fallback=None), frame.get_value("sport", fallback=None)))
    cols = {name: column(rows, i) for i, name in enumerate(RECORD_COLUMNS)}
    return cols, laps, sessions, sports


_ENUMS = {name: fitdecode.profile.FIELD_TYPES[name].enum for name in ("sport", "sub_sport")}


def _enum(kind: str, code: float) -> object:
    """An enum's profile name (as fitdecode gives it); an unknown code stays a number."""
    return _ENUMS[kind].get(int(code), float(code))


def _enum_or_none(kind: str, msg: dict[str, float]) -> object:
    return None if msg.get(kind) is None else _enum(kind, msg[kind])


def _messages(data: bytes, kind: str) -> list[dict[str, float]]:
    """Every message of a kind as {field: value} with absent/invalid fields left out (fitfast, columnar)."""
    cols = fitfast.records(data, kind, degrees=False)
    n = len(next(iter(cols.values()))) if cols else 0
    return [{k: float(v[i]) for k, v in cols.items() if np.isfinite(v[i])} for i in range(n)]


def _read_fitfast(data: bytes) -> Decoded:
    rec = fitfast.records(data, degrees=False)
    ts = rec.get("timestamp", np.empty(0))
    keep = np.flatnonzero(np.isfinite(ts))
    nan = np.full(len(keep), np.nan)

    def col(*names: str) -> np.ndarray:
        """The first present value among fields, per record.

        The base field comes before its enhanced_ twin (fitdecode's order is the reverse): where a file holds only
        the base field, fitfast's expansion into the enhanced one can be a unit off (8.155 m/s -> 8.154), while a
        file holding only the enhanced field has no base column at all; either way this matches fitdecode.
        """
        out = nan
        for name in reversed(names):
            if name in rec:
                v = rec[name][keep]
                out = v if out is nan else np.where(np.isfinite(v), v, out)
        return out

    values = (
        ts[keep],
        col("position_lat"),
        col("position_long"),
        col("altitude", "enhanced_altitude"),
        col("heart_rate"),
        col("cadence"),
        col("power"),
        col("speed", "enhanced_speed"),
    )
    cols: dict[str, np.ndarray] = dict(zip(RECORD_COLUMNS, values, strict=True))
    laps = [
        (lap.get("start_time"), lap.get("timestamp"), lap.get("total_elapsed_time")) for lap in _messages(data, "lap")
    ]
    sessions: list[dict[str, Any]] = []
    for msg in _messages(data, "session"):
        d: dict[str, Any] = {name: msg.get(name) for name in SESSION_FIELDS}
        for kind in ("sport", "sub_sport"):
            if d[kind] is not None:
                d[kind] = _enum(kind, d[kind])
        if d["start_time"] is not None:
            d["start_time"] = datetime.fromtimestamp(d["start_time"], tz=UTC)
        corners = [msg.get(k) for k in ("swc_lat", "swc_long", "nec_lat", "nec_long")]
        if not any(c is None for c in corners):
            d["bbox"] = [float(c or 0.0) * SEMICIRCLE_DEG for c in corners]
        sessions.append(d)
    sports: list[tuple[object, object]] = []
    if not sessions:  # the sport messages matter only without a session
        sports = [(_enum_or_none("sub_sport", m), _enum_or_none("sport", m)) for m in _messages(data, "sport")]
    return cols, laps, sessions, sports


def _read(data: bytes) -> Decoded:
    """Decode with fitfast, falling back to fitdecode for what fitfast refuses (or when it is missing)."""
    if fitfast is not None:
        try:
            return _read_fitfast(data)
        except Exception:  # noqa: BLE001 - FitDecodeError (bad CRC, truncated...) or anything else: the lenient path
            pass
    return _read_fitdecode(data)


def _device_laps(laps: list[Lap], t0: float) -> list[DeviceLap]:
    out = []
    for start, end, elapsed in laps:
        if start is None:
            continue
        s = start - t0
        e = end - t0 if end is not None else s + float(elapsed or 0.0)
        out.append(DeviceLap(start_offset_s=s, end_offset_s=max(e, s)))
    return out


def parse_fit(data: bytes) -> ParsedActivity:
    """Decode a FIT activity file (positions in semicircles -> degrees)."""
    try:
        cols, laps, sessions, sports = _read(data)
    except Exception as exc:  # fitdecode raises many types on corrupt input
        raise FormatError(f"unreadable FIT file: {exc}") from exc
    totals = combine_sessions(sessions)
    starts = [s["start_time"] for s in sessions if isinstance(s.get("start_time"), datetime)]
    n = len(cols["t"])
    if not n and not starts:
        raise FormatError("FIT file has no records and no session")
    t0 = min([s.timestamp() for s in starts] + ([float(cols["t"].min())] if n else []))
    track = (
        Track.from_arrays(
            t=cols["t"] - t0,
            lat=cols["lat"] * SEMICIRCLE_DEG,
            lng=cols["lng"] * SEMICIRCLE_DEG,
            alt=cols["alt"],
            hr=cols["hr"],
            cadence=cols["cadence"],
            power=cols["power"],
            speed=cols["speed"],
        )
        if n
        else Track.empty()
    )
    sub, sport = (totals.get("sub_sport"), totals.get("sport")) if totals else (sports[0] if sports else (None, None))
    return ParsedActivity(
        sport=map_sport(sub, sport),
        start_time=datetime.fromtimestamp(t0, tz=UTC),
        track=track,
        laps=_device_laps(laps, t0),
        session_totals=totals,
        sessions=sessions,
    )
