"""GPX/TCX: the streaming lxml parsers read what gpxpy / ElementTree read, in any batch size, and stay safe."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import gpxpy
import numpy as np
import pytest

import domain.formats.gpx as gpx_mod
import domain.formats.tcx as tcx_mod
from domain.formats import FormatError, parse_activity_file, xmlstream

GPX_FILES = [
    "activity_4078723797.gpx",
    "cerknicko-without-times.gpx",
    "apple_health_export/workout-routes/route_2021-05-08_7.12am.gpx",
]
TCX_FILES = ["3173437224.tcx", "cross-country-skiing_activity_1.tcx"]
EXT = {"hr": "hr", "cad": "cadence", "power": "power", "speed": "speed"}


def _gpxpy_columns(data: bytes) -> dict[str, np.ndarray]:
    """What a gpxpy-based reader sees: per track point lat, lng, ele, epoch time and extension values."""
    doc = gpxpy.parse(data.decode("utf-8-sig"))
    points = [p for trk in doc.tracks for seg in trk.segments for p in seg.points]
    cols: dict[str, list] = {k: [] for k in ("lat", "lng", "alt", "t", *EXT.values())}
    for p in points:
        cols["lat"].append(p.latitude)
        cols["lng"].append(p.longitude)
        cols["alt"].append(np.nan if p.elevation is None else p.elevation)
        cols["t"].append(p.time.timestamp() if p.time else np.nan)
        found = {}
        for ext in p.extensions:
            for el in ext.iter():
                key = EXT.get(el.tag.rsplit("}", 1)[-1].lower())
                if key and el.text:
                    found[key] = float(el.text)
        for key in EXT.values():
            cols[key].append(found.get(key, np.nan))
    return {k: np.array(v, dtype=float) for k, v in cols.items()}


@pytest.mark.parametrize("name", GPX_FILES)
def test_gpx_points_are_exactly_what_gpxpy_reads(fixtures_dir, name):
    data = (fixtures_dir / name).read_bytes()
    parsed = parse_activity_file(data, "gpx")
    ref = _gpxpy_columns(data)
    tr = parsed.track
    assert np.array_equal(tr.lat, ref["lat"]) and np.array_equal(tr.lng, ref["lng"])
    assert np.array_equal(tr.alt, ref["alt"], equal_nan=True)
    for key in EXT.values():
        assert np.array_equal(getattr(tr, key), ref[key], equal_nan=True), key
    if parsed.timed:
        assert np.array_equal(tr.t + parsed.start_time.timestamp(), ref["t"])


def _tcx_reference(data: bytes) -> dict[str, np.ndarray]:
    ns = {"t": "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"}
    act = ET.fromstring(data).find("t:Activities/t:Activity", ns)
    rows = []
    for tp in act.iterfind(".//t:Trackpoint", ns):
        time = tp.findtext("t:Time", None, ns)
        if time:
            rows.append(
                (
                    datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp(),
                    float(tp.findtext("t:Position/t:LatitudeDegrees", "nan", ns)),
                    float(tp.findtext("t:Position/t:LongitudeDegrees", "nan", ns)),
                    float(tp.findtext("t:HeartRateBpm/t:Value", "nan", ns)),
                )
            )
    return dict(zip(("t", "lat", "lng", "hr"), np.array(rows).T, strict=True))


@pytest.mark.parametrize("name", TCX_FILES)
def test_tcx_points_are_exactly_what_elementtree_reads(fixtures_dir, name):
    data = (fixtures_dir / name).read_bytes()
    parsed = parse_activity_file(data, "tcx")
    ref = _tcx_reference(data)
    assert np.array_equal(parsed.track.t + parsed.start_time.timestamp(), ref["t"])
    for key in ("lat", "lng", "hr"):
        assert np.array_equal(getattr(parsed.track, key), ref[key], equal_nan=True), key


@pytest.mark.parametrize("name,fmt", [("activity_4078723797.gpx", "gpx"), ("3173437224.tcx", "tcx")])
@pytest.mark.parametrize("batch", [1, 7])
def test_any_batch_size_gives_the_same_track(fixtures_dir, monkeypatch, name, fmt, batch):
    """Points are read in batches while the parser runs ahead by a chunk: no point is lost, split or doubled."""
    data = (fixtures_dir / name).read_bytes()
    whole = parse_activity_file(data, fmt)
    monkeypatch.setattr(gpx_mod, "BATCH", batch)
    monkeypatch.setattr(tcx_mod, "BATCH", batch)
    small = parse_activity_file(data, fmt)
    assert len(small.track) == len(whole.track)
    for ch in ("t", "lat", "lng", "alt", "hr", "cadence"):
        assert np.array_equal(getattr(small.track, ch), getattr(whole.track, ch), equal_nan=True)
    assert small.laps == whole.laps


GPX_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'


def test_gpx_waypoints_are_ignored_and_routes_used_without_tracks():
    doc = (
        GPX_HEAD + '<wpt lat="1" lon="1"><ele>5</ele><time>2020-01-01T00:00:00Z</time></wpt>'
        '<rte><name>r</name><rtept lat="45.0" lon="7.0"><ele>100</ele></rtept>'
        '<rtept lat="45.001" lon="7.0"><ele>101</ele></rtept></rte></gpx>'
    )
    p = parse_activity_file(doc.encode(), "gpx")
    assert len(p.track) == 2 and list(p.track.alt) == [100.0, 101.0] and p.timed is False


def test_gpx_10_speed_and_offset_times_are_read():
    doc = (
        '<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0"><trk><type>running</type><trkseg>'
        '<trkpt lat="45.0" lon="7.0"><time>2020-01-01T01:00:00+01:00</time><speed>2.5</speed></trkpt>'
        '<trkpt lat="45.0001" lon="7.0"><time>2020-01-01T00:00:04Z</time><speed>2.75</speed></trkpt>'
        "</trkseg></trk></gpx>"
    )
    p = parse_activity_file(doc.encode(), "gpx")
    assert p.sport == "running" and p.start_time == datetime(2020, 1, 1, tzinfo=UTC)
    assert list(p.track.t) == [0.0, 4.0] and list(p.track.speed) == [2.5, 2.75]


def test_gpx_with_an_unreadable_time_is_refused():
    doc = GPX_HEAD + '<trk><trkseg><trkpt lat="45" lon="7"><time>yesterday</time></trkpt></trkseg></trk></gpx>'
    with pytest.raises(FormatError):
        parse_activity_file(doc.encode(), "gpx")


@pytest.mark.parametrize("fmt", ["gpx", "tcx"])
def test_a_doctype_is_refused_even_where_the_byte_check_cannot_see_it(fmt):
    """UTF-16: the bytes hold no b"<!DOCTYPE"; the parsed document's DOCTYPE is refused all the same."""
    body = {
        "gpx": '<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg><trkpt lat="1" lon="1">'
        "<name>&a;</name></trkpt></trkseg></trk></gpx>",
        "tcx": '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        '<Activities><Activity Sport="Running"><Id>&a;</Id></Activity></Activities>'
        "</TrainingCenterDatabase>",
    }[fmt]
    doc = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + body).encode("utf-16")
    assert b"<!DOCTYPE" not in doc
    with pytest.raises(FormatError, match="DTD"):
        parse_activity_file(doc, fmt)


def test_tcx_reads_only_the_first_activity_and_not_courses():
    tp = (
        "<Trackpoint><Time>2020-01-01T00:00:0{s}Z</Time><Position><LatitudeDegrees>45.000{s}</LatitudeDegrees>"
        "<LongitudeDegrees>7</LongitudeDegrees></Position><HeartRateBpm><Value>1{s}0</Value></HeartRateBpm>"
        "</Trackpoint>"
    )
    lap = '<Lap StartTime="2020-01-01T00:00:0{s}Z"><TotalTimeSeconds>3</TotalTimeSeconds><Track>{tps}</Track></Lap>'
    doc = (
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        '<Activities><Activity Sport="Biking"><Id>2020-01-01T00:00:00Z</Id>'
        + lap.format(s=0, tps=tp.format(s=0) + tp.format(s=1))
        + lap.format(s=2, tps=tp.format(s=2))
        + '</Activity><Activity Sport="Running"><Id>2020-01-02T00:00:00Z</Id>'
        + lap.format(s=5, tps=tp.format(s=5))
        + "</Activity></Activities>"
        "<Courses><Course><Track>" + tp.format(s=9) + "</Track></Course></Courses></TrainingCenterDatabase>"
    )
    p = parse_activity_file(doc.encode(), "tcx")
    assert p.sport == "cycling" and list(p.track.t) == [0.0, 1.0, 2.0] and list(p.track.hr) == [100, 110, 120]
    assert [(lap.start_offset_s, lap.end_offset_s) for lap in p.laps] == [(0.0, 2.0), (2.0, 5.0)]


@pytest.mark.parametrize(
    "doc,refused",
    [
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><gpx/>', True),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- a <comment> -->\n<?pi x?>\n<!DOCTYPE gpx><gpx/>', True),
        (b'<!ENTITY a "b"><gpx/>', True),
        (b'<?xml version="1.0"?>\n<gpx><desc><![CDATA[<!DOCTYPE is text here]]></desc></gpx>', False),
        (b'<?xml version="1.0"?><gpx/>', False),
        (b"", False),
    ],
)
def test_the_byte_check_reads_the_prolog_for_a_dtd(doc, refused):
    if refused:
        with pytest.raises(FormatError, match="DTD"):
            xmlstream.refuse_dtd(doc, "GPX")
    else:
        xmlstream.refuse_dtd(doc, "GPX")
