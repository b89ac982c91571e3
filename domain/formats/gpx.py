"""GPX 1.0/1.1 via a streaming lxml parse straight into columns, with Garmin TrackPointExtension heart rate,
cadence (and power/speed if present).

Tracks' points (`trk/trkseg/trkpt`), else routes' (`rte/rtept`) when the file has no track segment; waypoints
are ignored. Values read per point: `lat`/`lon`, `ele`, `time`, and anywhere inside it (its `extensions`, or a
GPX 1.0 `<speed>`) elements named hr/heartrate, cad/cadence, power/watts, speed (in any namespace; lower case,
Capitalised or UPPER). Sport from the first track's `type`, name from its `name` (else the file's).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from lxml import etree

from ..track import Track
from .common import FormatError, ParsedActivity, floats, iso_seconds, map_sport
from .timing import fill_times
from .xmlstream import BATCH, RowReader, Rows, events, local, refuse_dtd

# row slots: time, lat, lng, ele, hr, cad, power, speed, segment number (last)
EXTENSION_SLOTS: dict[str, int] = {"hr": 4, "heartrate": 4, "cad": 5, "cadence": 5, "power": 6, "watts": 6, "speed": 7}
_VALUE_SLOTS = {"ele": 3, "time": 0, **EXTENSION_SLOTS}
_VALUE_NAMES = sorted({v for k in _VALUE_SLOTS for v in (k, k.capitalize(), k.upper())} | {"heartRate", "HeartRate"})
_POINTS = ("trkpt", "rtept")
_READER = RowReader(
    walk_tags=tuple(f"{{*}}{n}" for n in _POINTS + tuple(_VALUE_NAMES)),
    width=9,
    point_tag=lambda tag: local(tag) in _POINTS,
    slot_of=lambda tag: _VALUE_SLOTS.get(local(tag).lower()),
    attrs={"lat": 1, "lon": 2},
)


_KIND = {"trkpt": (0, True), "trkseg": (0, False), "rtept": (1, True), "rte": (1, False)}


def _rows(data: bytes) -> tuple[Rows, etree._Element | None]:
    """(rows of text: track points, else route points; the root element with the rest of the document)."""
    rows = (Rows(_READER.width), Rows(_READER.width))  # track points, route points
    containers = [0, 0]  # track segments, routes seen
    kinds: dict[str, tuple[int, bool] | None] = {}
    pending, root = 0, None
    for el in events(data, ("{*}trkpt", "{*}rtept", "{*}trkseg", "{*}rte", "{*}wpt")):
        tag = el.tag
        kind = kinds[tag] if tag in kinds else kinds.setdefault(tag, _KIND.get(local(tag)))
        if kind is None:  # a waypoint: ignored, dropped as soon as read
            el.getparent().remove(el)
            continue
        which, is_point = kind
        if is_point:
            pending += 1
            if pending >= BATCH:
                _READER.read(el.getparent(), rows[which], containers[which], limit=pending)
                pending = 0
            continue
        if root is None:
            root = el.getroottree().getroot()
        _READER.read(el, rows[which], containers[which])
        containers[which] += 1
        pending = 0
    return (rows[0] if containers[0] else rows[1]), root


def _text(el: etree._Element | None, *path: str) -> str | None:
    for name in path:
        if el is None:
            return None
        el = next((c for c in el.iterchildren() if isinstance(c.tag, str) and local(c.tag) == name), None)
    return el.text if el is not None else None


def parse_gpx(data: bytes) -> ParsedActivity:
    """Decode a GPX file (tracks, else routes); untimed points get times interpolated along distance."""
    refuse_dtd(data, "GPX")
    try:
        rows, root = _rows(data)
    except FormatError:
        raise
    except Exception as exc:  # lxml's XMLSyntaxError and friends
        raise FormatError(f"unreadable GPX file: {exc}") from exc
    if len(rows) == 0:
        raise FormatError("GPX file has no track or route points")
    cols = [rows.column(i) for i in range(rows.width)]
    try:
        abs_t = iso_seconds(cols[0], strict=True)
    except ValueError as exc:
        raise FormatError(f"GPX file has an unreadable <time>: {exc}") from None
    lat, lng = floats(cols[1]), floats(cols[2])
    t, timed = fill_times(abs_t, lat, lng, np.array(cols[8], dtype=np.int64))
    t0 = float(t.min())
    if not np.isfinite(abs_t).any():  # synthetic times: anchor at the file's own time if it has one
        file_time = iso_seconds([_text(root, "metadata", "time") or _text(root, "time")])[0]
        t0 = float(file_time) if np.isfinite(file_time) else 0.0
        t = t - t.min() + t0
    track = Track.from_arrays(
        t=t - t0,
        lat=lat,
        lng=lng,
        alt=floats(cols[3]),
        hr=floats(cols[4]),
        cadence=floats(cols[5]),
        power=floats(cols[6]),
        speed=floats(cols[7]),
    )
    trk = (
        next((c for c in root.iterchildren() if isinstance(c.tag, str) and local(c.tag) == "trk"), None)
        if root is not None
        else None
    )
    name = _text(trk, "name") or _text(root, "metadata", "name") or _text(root, "name")
    return ParsedActivity(
        sport=map_sport(_text(trk, "type")),
        start_time=datetime.fromtimestamp(t0, tz=UTC),
        track=track,
        laps=[],
        session_totals=None,
        name=name,
        timed=timed,
    )
