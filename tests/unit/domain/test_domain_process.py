import json

import numpy as np
import pytest

from domain.bench import time_process
from domain.process import SPORTS, ProcessedActivity, process_activity
from domain.profile import AthleteProfile
from domain.strength import StrengthSet
from domain.track import Track

from .domain_synth import circle_laps, north_line


def test_sports_are_the_documented_list():
    assert SPORTS == ("running", "cycling", "weightlifting", "walking", "hiking", "swimming", "other")


def test_25_laps_of_a_400m_track_is_10km_within_half_a_percent():
    p = process_activity("running", circle_laps(25, 400.0, speed=4.0))
    assert p.distance_m == pytest.approx(10_000, rel=0.005)
    assert p.elapsed_s == 2500 and p.moving_s == 2500
    assert p.avg_speed_mps == pytest.approx(4.0, rel=0.005)
    assert p.avg_pace_s_per_km == pytest.approx(250, rel=0.005)
    assert len(p.splits) == 10
    assert all(s["elapsed_s"] == pytest.approx(250, rel=0.005) for s in p.splits)
    got = {e["name"]: e["elapsed_s"] for e in p.best_efforts}
    assert got["400m"] == pytest.approx(100, rel=0.005) and got["5k"] == pytest.approx(1250, rel=0.005)
    assert p.elevation_gain_m == 0 and p.elevation_loss_m == 0
    assert p.bbox[2] - p.bbox[0] == pytest.approx(np.degrees(2 * 400 / (2 * np.pi) / 6_371_008.8), rel=1e-3)


def test_a_stop_without_movement_is_elapsed_but_not_moving_time():
    # 600 s at 3 m/s, 120 s standing (samples still recorded), 600 s at 3 m/s
    tr = north_line([(600, 3.0), (120, 0.0), (600, 3.0)])
    p = process_activity("running", tr)
    assert p.elapsed_s == 1320
    assert p.moving_s == pytest.approx(1200, abs=4)  # ±2 samples of speed smoothing at each edge
    assert p.distance_m == pytest.approx(3600, rel=1e-6)


def test_a_gap_without_samples_is_a_pause():
    tr = north_line([(600, 3.0)])
    later = Track.from_arrays(t=tr.t + 900.0, lat=tr.lat + (tr.lat[-1] - tr.lat[0]), lng=tr.lng)
    both = Track.from_arrays(
        t=np.r_[tr.t, later.t[1:]], lat=np.r_[tr.lat, later.lat[1:]], lng=np.r_[tr.lng, later.lng[1:]]
    )
    p = process_activity("running", both)
    assert p.elapsed_s == 1500
    assert p.moving_s == pytest.approx(1200, abs=1)  # the 300 s gap is not moving time


def test_sparse_recording_every_15s_is_still_moving():
    tr = north_line([(1500, 3.0)], hz=1 / 15)
    p = process_activity("running", tr)
    assert p.moving_s == pytest.approx(1500) and p.distance_m == pytest.approx(4500, rel=1e-6)
    assert p.max_speed_mps == pytest.approx(3.0, rel=1e-6)


def test_hr_average_max_and_zone_seconds():
    def hr(t, d):
        return np.where(t <= 600, 120.0, 170.0)

    tr = north_line([(1200, 3.0)], hr=hr)
    prof = AthleteProfile(max_hr=200, resting_hr=50)  # zone lows 0/140/155/170/185
    p = process_activity("running", tr, profile=prof)
    assert p.hr_max == 170
    assert p.hr_avg == pytest.approx(145, abs=0.05)
    secs = [z["seconds"] for z in p.hr_zones]
    assert secs == pytest.approx([600, 0, 0, 600, 0], abs=1)
    assert sum(secs) == pytest.approx(1200)


def test_a_single_hr_spike_is_smoothed_away_from_the_max():
    tr = north_line([(600, 3.0)], hr=lambda t, d: np.where(t == 300, 240.0, 150.0))
    assert process_activity("running", tr).hr_max == 150


def test_cadence_average_ignores_zeros_and_power_average_includes_them():
    def cad(t, d):
        return np.where(t < 300, 0.0, 90.0)

    def pw(t, d):
        return np.where(t < 300, 0.0, 200.0)

    p = process_activity("cycling", north_line([(600, 8.0)], cadence=cad, power=pw))
    assert p.cadence_avg == pytest.approx(90)
    assert p.power_avg == pytest.approx(100, abs=0.5)
    assert p.power_max == 200


def test_max_speed_is_the_fast_section():
    p = process_activity("cycling", north_line([(300, 8.0), (60, 15.0), (300, 8.0)]))
    assert p.max_speed_mps == pytest.approx(15.0, rel=1e-6)


def test_calories_from_hr_when_absent_and_kept_when_given():
    tr = north_line([(3600, 3.0)], hr=lambda t, d: np.full(len(t), 150.0))
    prof = AthleteProfile(weight_kg=70, birth_year=1989, sex="male")
    per_min = (-55.0969 + 0.6309 * 150 + 0.1988 * 70 + 0.2017 * 35) / 4.184
    assert process_activity("running", tr, profile=prof, start_year=2024).calories == pytest.approx(
        per_min * 60, rel=1e-3
    )
    assert process_activity("running", tr, calories=321.0).calories == 321.0


def test_calories_from_met_without_hr():
    p = process_activity("cycling", north_line([(3600, 8.0)]), profile=AthleteProfile(weight_kg=80))
    assert p.calories == pytest.approx(7.5 * 80 * 1.0, rel=1e-3)


def test_manual_entry_uses_given_values():
    p = process_activity(
        "running", Track.empty(), duration_s=1800, distance_m=5000, profile=AthleteProfile(weight_kg=60)
    )
    assert (p.distance_m, p.elapsed_s, p.moving_s) == (5000, 1800, 1800)
    assert p.avg_speed_mps == pytest.approx(5000 / 1800)
    assert p.avg_pace_s_per_km == pytest.approx(360)
    assert p.calories == pytest.approx(9.8 * 60 * 0.5)
    assert p.route_polyline is None and p.points_count == 0 and p.hr_zones == []


def test_weightlifting_entry_reports_strength_summary():
    sets = [StrengthSet("deadlift", 5, 140.0), StrengthSet("deadlift", 1, 170.0)]
    p = process_activity("weightlifting", Track.empty(), sets=sets, duration_s=3600)
    assert p.strength["sets"] == 2 and p.strength["total_volume_kg"] == 870
    assert p.strength["best_1rm"]["deadlift"] == pytest.approx(170.0)
    assert p.calories == pytest.approx(5.0 * 70)


def test_indoor_track_with_speed_channel_integrates_distance():
    n = 601
    tr = Track.from_arrays(t=np.arange(n, dtype=float), speed=np.full(n, 5.0), power=np.full(n, 180.0))
    p = process_activity("cycling", tr)
    assert p.distance_m == pytest.approx(3000)
    assert p.route_polyline is None and p.bbox is None
    assert len(p.splits) == 3


def test_track_without_gps_or_speed_takes_the_client_distance():
    tr = Track.from_arrays(t=np.arange(1801.0), hr=np.full(1801, 140.0))
    p = process_activity("running", tr, distance_m=5000, duration_s=9999)
    assert p.distance_m == 5000 and p.elapsed_s == 1800 and p.moving_s == 1800


def test_client_distance_and_duration_are_ignored_when_points_have_gps():
    p = process_activity("running", north_line([(600, 3.0)]), distance_m=99999, duration_s=5)
    assert p.distance_m == pytest.approx(1800) and p.elapsed_s == 600


def test_noisy_input_gives_the_same_numbers_as_clean_input():
    clean = north_line([(900, 3.0)], hr=lambda t, d: 140 + 10 * np.sin(t / 60))
    rng = np.random.default_rng(3)
    order = rng.permutation(len(clean))
    noisy = clean.take(np.r_[order, order[:50]])  # shuffled with 50 duplicated samples
    a, b = process_activity("running", clean), process_activity("running", noisy)
    for key in ("distance_m", "elapsed_s", "moving_s", "hr_avg", "hr_max"):
        assert getattr(b, key) == pytest.approx(getattr(a, key))
    assert b.points_count == len(clean)


def test_unknown_sport_is_processed_as_other():
    assert process_activity("underwater basket weaving", north_line([(60, 1.0)])).sport == "other"


def test_summary_dict_is_json_and_omits_arrays():
    p = process_activity("running", circle_laps(3), calories=None)
    d = p.summary_dict()
    json.dumps(d, allow_nan=False)
    assert "track" not in d and "distance_stream" not in d
    assert isinstance(p, ProcessedActivity) and len(p.distance_stream) == len(p.track) == d["points_count"]


def test_benchmark_reports_cpu_time_per_call():
    r = time_process(n=600, repeat=2)
    assert r["points"] == 600 and r["cpu_s_mean"] > 0
