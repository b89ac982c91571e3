"""Wire formats that carry samples (activity uploads, live batches), decoded with msgspec straight into typed
structs and then into one columnar `Track`.

Two equivalent forms, documented in OpenAPI:
- `data_points`: a list of point objects `{"time", "lat", "lng", "altitude", "heart_rate", "cadence", "power",
  "speed"}` (the original, Strava-like shape);
- `streams`: one array per channel `{"time": [...], "lat": [...], ...}` (columnar: smaller, and ~10x cheaper to
  decode; what the client SDK sends).
`time` is seconds from the activity's start, or an absolute timestamp with a time zone. Bounds are checked while
decoding; anything that fails becomes one `Invalid` (422) naming the field, before any work is done.

msgspec instead of pydantic for these bodies because a 3,600-point upload took ~14 ms to validate as pydantic
objects and ~2.5 ms here (loadtest/README.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec
import numpy as np

from domain.errors import Invalid
from domain.track import POINT_KEYS, Track

MAX_POINTS = 100_000  # hard schema cap; settings.max_points may be lower
MAX_BATCH_POINTS = 600

Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lng = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Altitude = Annotated[float, msgspec.Meta(ge=-1000, le=10000)]
HeartRate = Annotated[float, msgspec.Meta(ge=0, le=300)]
Cadence = Annotated[float, msgspec.Meta(ge=0, le=400)]
Power = Annotated[float, msgspec.Meta(ge=0, le=5000)]
Speed = Annotated[float, msgspec.Meta(ge=0, le=150)]
Offset = Annotated[float, msgspec.Meta(description="seconds from the activity start")]
AwareDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]
PointTime = Offset | AwareDatetime

# wire field -> Track channel (the point keys the domain names, time apart)
CHANNEL_OF = {key: channel for key, channel in POINT_KEYS.items() if key != "time"}


class PointIn(msgspec.Struct, omit_defaults=True):
    """One sample; every channel but `time` is optional (unknown keys are ignored)."""

    time: PointTime
    lat: Lat | None = None
    lng: Lng | None = None
    altitude: Altitude | None = None
    heart_rate: HeartRate | None = None
    cadence: Cadence | None = None
    power: Power | None = None
    speed: Speed | None = None


def _column(kind: Any, max_points: int) -> Any:
    return Annotated[list[kind | None], msgspec.Meta(max_length=max_points)] | None


class StreamsIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Columnar samples: one array per channel, all as long as `time`; null = missing."""

    time: Annotated[list[PointTime], msgspec.Meta(max_length=MAX_POINTS)]
    lat: _column(Lat, MAX_POINTS) = None  # type: ignore[valid-type]
    lng: _column(Lng, MAX_POINTS) = None  # type: ignore[valid-type]
    altitude: _column(Altitude, MAX_POINTS) = None  # type: ignore[valid-type]
    heart_rate: _column(HeartRate, MAX_POINTS) = None  # type: ignore[valid-type]
    cadence: _column(Cadence, MAX_POINTS) = None  # type: ignore[valid-type]
    power: _column(Power, MAX_POINTS) = None  # type: ignore[valid-type]
    speed: _column(Speed, MAX_POINTS) = None  # type: ignore[valid-type]


class LapIn(msgspec.Struct, forbid_unknown_fields=True):
    """A device lap: start and end in seconds from the activity start."""

    start: Annotated[float, msgspec.Meta(ge=0)]
    end: Annotated[float, msgspec.Meta(ge=0)]


class SetIn(msgspec.Struct, forbid_unknown_fields=True):
    """One weightlifting set."""

    exercise: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    reps: Annotated[int, msgspec.Meta(ge=0, le=1000)]
    weight_kg: Annotated[float, msgspec.Meta(ge=0, le=1000)] = 0.0
    rpe: Annotated[float, msgspec.Meta(ge=0, le=10)] | None = None
    rest_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] | None = None


ActivityType = Literal["running", "cycling", "weightlifting", "walking", "hiking", "swimming", "other"]
Visibility = Literal["private", "followers", "public"]


class ActivityCreate(msgspec.Struct, forbid_unknown_fields=True):
    """POST /activities: a one-shot upload (`data_points` or columnar `streams`), a manual entry (`duration`,
    `distance`, `calories`), or a strength session (`sets`). A `client_id` (or an Idempotency-Key header) makes
    retries safe."""

    type: ActivityType
    start_time: AwareDatetime
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    notes: Annotated[str, msgspec.Meta(max_length=10_000)] | None = None
    visibility: Visibility = "private"
    duration: Annotated[float, msgspec.Meta(ge=0, le=30 * 86400)] | None = None
    distance: Annotated[float, msgspec.Meta(ge=0, le=5_000_000)] | None = None
    calories: Annotated[float, msgspec.Meta(ge=0, le=100_000)] | None = None
    data_points: Annotated[list[PointIn], msgspec.Meta(max_length=MAX_POINTS)] = []
    streams: StreamsIn | None = None
    laps: Annotated[list[LapIn], msgspec.Meta(max_length=1000)] = []
    sets: Annotated[list[SetIn], msgspec.Meta(max_length=1000)] = []


class SampleBatch(msgspec.Struct, forbid_unknown_fields=True):
    """A live batch: number `seq` (1, 2, 3, ...) of 1-600 points, as `points` or columnar `streams`."""

    seq: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
    points: Annotated[list[PointIn], msgspec.Meta(max_length=MAX_BATCH_POINTS)] = []
    streams: StreamsIn | None = None


_UPLOAD = msgspec.json.Decoder(ActivityCreate)
_BATCH = msgspec.json.Decoder(SampleBatch)
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def invalid_from_msgspec(exc: msgspec.MsgspecError, prefix: str = "") -> Invalid:
    """A msgspec error as the 422 envelope's field error (`$.data_points[3].lat` -> `data_points.3.lat`)."""
    text = str(exc)
    match = _PATH.search(text)
    if not isinstance(exc, msgspec.ValidationError):  # (ValidationError is a DecodeError too)
        field, message, kind = "body", text, "json_invalid"
    else:
        path = match.group("path") if match else ""
        field = re.sub(r"\[(\d+)\]", r".\1", path).lstrip(".") or "body"
        message, kind = (text[: match.start()] if match else text), "value_error"
        unknown = re.match(r"Object contains unknown field `(.+)`", message)
        if unknown:
            field = f"{field}.{unknown.group(1)}" if field != "body" else unknown.group(1)
    if prefix and field != "body":
        field = f"{prefix}.{field}"
    return Invalid.field(field, message, kind)


def decode_upload(raw: bytes) -> ActivityCreate:
    """The upload body, decoded and checked (Invalid on any error)."""
    try:
        body = _UPLOAD.decode(raw)
    except msgspec.MsgspecError as exc:
        raise invalid_from_msgspec(exc) from None
    if body.data_points and body.streams is not None:
        raise Invalid.field("streams", "send data_points or streams, not both")
    if not body.data_points and body.streams is None and body.duration is None and not body.sets:
        raise Invalid.field("duration", "a manual entry needs a duration (or data_points, streams, or sets)")
    for i, lap in enumerate(body.laps):
        if lap.end <= lap.start:
            raise Invalid.field(f"laps.{i}", "lap end must be after its start")
    return body


def decode_batch(raw: bytes) -> SampleBatch:
    """A live batch body, decoded and checked (Invalid on any error)."""
    try:
        batch = _BATCH.decode(raw)
    except msgspec.MsgspecError as exc:
        raise invalid_from_msgspec(exc) from None
    return check_batch(batch)


def batch_from_object(obj: Any) -> SampleBatch:
    """A live batch from an already-parsed JSON object (a WebSocket message)."""
    try:
        batch = msgspec.convert(obj, SampleBatch)
    except msgspec.MsgspecError as exc:
        raise invalid_from_msgspec(exc) from None
    return check_batch(batch)


def check_batch(batch: SampleBatch) -> SampleBatch:
    """One of points/streams, 1-600 points."""
    n = len(batch.streams.time) if batch.streams is not None else len(batch.points)
    if batch.points and batch.streams is not None:
        raise Invalid.field("streams", "send points or streams, not both")
    if not 1 <= n <= MAX_BATCH_POINTS:
        raise Invalid.field("points", f"a batch holds 1 to {MAX_BATCH_POINTS} points")
    return batch


def _seconds(times: Sequence[float | dt.datetime], start: dt.datetime | None, field: str) -> tuple[np.ndarray, bool]:
    """(float seconds, absolute?) for a time column: offsets as given, timestamps minus `start` (or epoch seconds
    when start is None); a mix of both is refused."""
    kinds = {isinstance(t, dt.datetime) for t in times}
    if len(kinds) > 1:
        raise Invalid.field(field, "mix of offsets and timestamps")
    if kinds == {True}:
        base = start.timestamp() if start is not None else 0.0
        return np.array([t.timestamp() - base for t in times], dtype=np.float64), True  # type: ignore[union-attr]
    return np.asarray(times, dtype=np.float64), False


def to_track(
    points: Sequence[PointIn], streams: StreamsIn | None, start: dt.datetime | None = None, field: str = "data_points"
) -> tuple[Track, bool]:
    """The one conversion from either wire form to a columnar Track: (track, absolute times?)."""
    if streams is not None:
        n = len(streams.time)
        t, absolute = _seconds(streams.time, start, "streams.time")
        cols: dict[str, np.ndarray] = {}
        for name, channel in CHANNEL_OF.items():
            values = getattr(streams, name)
            if values is None:
                continue
            if len(values) != n:
                raise Invalid.field(f"streams.{name}", f"has {len(values)} values, time has {n}")
            cols[channel] = np.array(values, dtype=np.float64)  # None -> nan
        _lat_lng_together(cols.get("lat"), cols.get("lng"), "streams")
        return Track.from_arrays(t, **cols), absolute
    if not points:
        return Track.empty(), False
    t, absolute = _seconds([p.time for p in points], start, f"{field}.time")
    cols = {
        channel: np.array([getattr(p, name) for p in points], dtype=np.float64) for name, channel in CHANNEL_OF.items()
    }
    _lat_lng_together(cols["lat"], cols["lng"], field)
    return Track.from_arrays(t, **cols), absolute


def _lat_lng_together(lat: np.ndarray | None, lng: np.ndarray | None, field: str) -> None:
    a = np.isnan(lat) if lat is not None else None
    b = np.isnan(lng) if lng is not None else None
    if a is None and b is None:
        return
    if a is None or b is None:
        raise Invalid.field(f"{field}.{'lng' if b is None else 'lat'}", "lat and lng must be given together")
    bad = np.flatnonzero(a != b)
    if bad.size:
        raise Invalid.field(f"{field}.{int(bad[0])}", "lat and lng must be given together")


def openapi_components() -> dict[str, Any]:
    """JSON schemas of the msgspec bodies, for the OpenAPI document (components/schemas)."""
    _, components = msgspec.json.schema_components(
        [ActivityCreate, SampleBatch], ref_template="#/components/schemas/{name}"
    )
    return components
