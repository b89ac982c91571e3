import numpy as np
import pytest

from domain.best_efforts import best_distance_effort, best_efforts, best_power
from domain.process import process_activity
from domain.splits import DeviceLap
from domain.sports import RUN_EFFORTS

from .domain_synth import north_line


def test_one_km_splits_of_a_steady_run_with_a_partial_last_split():
    # 5.5 km at 4 m/s on a 1 % grade: each full km takes 250 s and climbs 10 m
    tr = north_line([(1375, 4.0)], alt=lambda t, d: 100 + 0.01 * d, hr=lambda t, d: 120 + 0.01 * t)
    p = process_activity("running", tr)
    assert [s["split"] for s in p.splits] == [1, 2, 3, 4, 5, 6]
    for s in p.splits[:5]:
        assert s["distance_m"] == pytest.approx(1000, abs=1e-6)
        assert s["elapsed_s"] == pytest.approx(250, abs=1e-6)
        assert s["moving_s"] == pytest.approx(250, abs=1e-6)
        assert s["pace_s_per_km"] == pytest.approx(250, abs=1e-6)
        assert s["avg_speed_mps"] == pytest.approx(4.0)
        # 0.1 m slack: the altitude smoothing window is truncated at the very first sample
        assert s["elevation_diff_m"] == pytest.approx(10.0, abs=0.1)
    assert p.splits[5]["distance_m"] == pytest.approx(500, abs=1e-6)
    assert p.splits[5]["elapsed_s"] == pytest.approx(125, abs=1e-6)
    assert [s["elevation_diff_m"] for s in p.splits[1:5]] == pytest.approx([10.0] * 4, abs=1e-6)
    # HR rises 0.01 bpm/s: mean over split k (t from 250(k-1) to 250k) is 120 + 0.01 × midpoint
    assert p.splits[1]["avg_hr"] == pytest.approx(120 + 0.01 * 375, abs=1e-6)


def test_device_laps_are_measured_over_their_time_windows():
    tr = north_line([(600, 4.0), (400, 2.5)], hr=lambda t, d: np.where(t <= 600, 150.0, 130.0))
    p = process_activity("running", tr, device_laps=[DeviceLap(0, 600), DeviceLap(600, 1000)])
    a, b = p.laps
    assert (a["index"], b["index"]) == (0, 1)
    assert a["distance_m"] == pytest.approx(2400) and b["distance_m"] == pytest.approx(1000)
    assert a["elapsed_s"] == 600 and b["elapsed_s"] == 400
    assert a["avg_speed_mps"] == pytest.approx(4.0) and b["avg_speed_mps"] == pytest.approx(2.5)
    assert a["avg_hr"] == pytest.approx(150) and b["avg_hr"] == pytest.approx(130, abs=0.05)


def test_best_efforts_find_the_fast_kilometre_inside_a_run():
    # 2 km at 4 m/s, 1 km at 5 m/s, 2 km at 4 m/s
    tr = north_line([(500, 4.0), (200, 5.0), (500, 4.0)])
    p = process_activity("running", tr)
    got = {e["name"]: e for e in p.best_efforts}
    assert set(got) == {"400m", "1k", "1mile", "5k"}  # 10 km and longer are not reached
    assert got["400m"]["elapsed_s"] == pytest.approx(80, abs=1e-6)
    assert got["1k"]["elapsed_s"] == pytest.approx(200, abs=1e-6)
    assert got["1k"]["start_offset_s"] == pytest.approx(500) and got["1k"]["end_offset_s"] == pytest.approx(700)
    assert got["1mile"]["elapsed_s"] == pytest.approx(200 + 609.344 / 4, abs=1e-6)
    assert got["5k"]["elapsed_s"] == pytest.approx(1200, abs=1e-6)


def test_best_effort_needs_the_activity_to_be_long_enough():
    t = np.arange(10.0)
    d = t * 30
    assert best_distance_effort(t, d, 400.0) is None
    assert best_efforts(t, d, RUN_EFFORTS) == []


def test_cycling_best_efforts_and_twenty_minute_power():
    # 50 min ride at 10 m/s: 200 W, except minutes 15–35 at 300 W
    tr = north_line([(3000, 10.0)], power=lambda t, d: np.where((t > 900) & (t <= 2100), 300.0, 200.0))
    p = process_activity("cycling", tr)
    got = {e["name"]: e for e in p.best_efforts}
    assert got["5k"]["elapsed_s"] == pytest.approx(500) and got["20k"]["elapsed_s"] == pytest.approx(2000)
    assert "40k" not in got
    assert got["20min_power"]["duration_s"] == 1200
    assert got["20min_power"]["watts"] == pytest.approx(300.0)


def test_no_power_effort_without_power_or_when_shorter_than_twenty_minutes():
    t = np.arange(600.0)
    assert best_power(t, np.full(600, 250.0)) is None
    assert best_power(np.arange(3000.0), np.full(3000, np.nan)) is None
