"""The other real files: indoor FIT with a gap, multisport FIT, TCX run with a pause, TCX ski, untimed GPX."""

from datetime import UTC, datetime

import gpxpy
import pytest

from domain.formats import FormatError, parse_activity_file, sniff_format
from domain.process import process_activity


@pytest.fixture(scope="module")
def load(fixtures_dir):
    def _load(name: str):
        data = (fixtures_dir / name).read_bytes()
        parsed = parse_activity_file(data, sniff_format(data))
        return parsed, process_activity(parsed.sport, parsed.track, device_laps=parsed.laps)

    return _load


def test_indoor_fit_has_no_gps_and_its_115s_gap_is_a_pause(load):
    parsed, p = load("6449921903_ACTIVITY.fit")
    s = parsed.session_totals
    assert parsed.sport == "cycling" and not parsed.track.has_gps()
    assert p.distance_m == 0 and p.route_polyline is None
    assert p.moving_s == pytest.approx(s["total_timer_time"], rel=0.02)
    assert p.elapsed_s == pytest.approx(s["total_elapsed_time"], rel=0.02)
    assert p.hr_avg == pytest.approx(s["avg_heart_rate"], rel=0.02)
    assert p.hr_max == pytest.approx(s["max_heart_rate"], rel=0.02)
    assert len(p.laps) == 2


def test_multisport_fit_keeps_every_session_and_does_not_crash(load):
    parsed, p = load("6471559601_ACTIVITY.fit")
    assert [s["sport"] for s in parsed.sessions] == ["running", "transition", "rowing"]
    total = sum(s["total_timer_time"] for s in parsed.sessions)
    assert parsed.session_totals["total_timer_time"] == pytest.approx(total)
    assert len(parsed.laps) == 3 and len(parsed.track) == 60
    assert p.moving_s == pytest.approx(total, rel=0.02)
    assert p.hr_max == pytest.approx(parsed.session_totals["max_heart_rate"], rel=0.05)


def test_tcx_run_excludes_its_399s_pause_and_matches_lap_totals(load):
    parsed, p = load("3173437224.tcx")
    s = parsed.session_totals
    assert parsed.sport == "running"
    assert parsed.start_time == datetime(2019, 1, 29, 10, 25, 13, tzinfo=UTC)
    assert len(parsed.track) == 3507 and len(p.laps) == 2
    assert p.elapsed_s - p.moving_s >= 399
    assert p.distance_m == pytest.approx(s["total_distance"], rel=0.02)
    assert p.hr_avg == pytest.approx(s["avg_heart_rate"], rel=0.02)
    assert p.hr_max == pytest.approx(s["max_heart_rate"], rel=0.02)
    assert [e["name"] for e in p.best_efforts] == ["400m", "1k", "1mile"]


def test_tcx_ski_maps_other_sport_and_matches_lap_totals(load):
    parsed, p = load("cross-country-skiing_activity_1.tcx")
    s = parsed.session_totals
    assert parsed.sport == "other"
    assert p.distance_m == pytest.approx(s["total_distance"], rel=0.02)
    assert p.hr_avg == pytest.approx(s["avg_heart_rate"], rel=0.02)
    assert p.hr_max == pytest.approx(s["max_heart_rate"], rel=0.02)


def test_gpx_without_times_gets_synthetic_times_and_keeps_the_full_route(fixtures_dir):
    data = (fixtures_dir / "cerknicko-without-times.gpx").read_bytes()
    parsed = parse_activity_file(data, "gpx")
    p = process_activity(parsed.sport, parsed.track)
    assert parsed.timed is False and len(parsed.track) == 296 and p.points_count == 296
    assert p.distance_m == pytest.approx(gpxpy.parse(data.decode()).length_2d(), rel=0.005)


def test_apple_health_route_gpx_parses(fixtures_dir):
    routes = sorted((fixtures_dir / "apple_health_export" / "workout-routes").glob("*.gpx"))
    assert routes
    parsed = parse_activity_file(routes[0].read_bytes(), "gpx")
    assert len(parsed.track) == 3 and parsed.track.has_gps()
    process_activity("running", parsed.track)


@pytest.mark.parametrize("fmt", ["fit", "gpx", "tcx"])
def test_garbage_bytes_raise_format_error(fmt):
    with pytest.raises(FormatError):
        parse_activity_file(b"\x00\x01not a workout file at all", fmt)


def test_xml_entity_expansion_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">&b;'
        b"</TrainingCenterDatabase>"
    )
    for fmt in ("tcx", "gpx"):
        with pytest.raises(FormatError):
            parse_activity_file(bomb, fmt)


def test_truncated_fit_raises_format_error(fixtures_dir):
    data = (fixtures_dir / "6449921903_ACTIVITY.fit").read_bytes()
    with pytest.raises(FormatError):
        parse_activity_file(data[:40], "fit")
