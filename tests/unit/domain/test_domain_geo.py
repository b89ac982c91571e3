import math

import numpy as np
import pytest

from domain.geo import cumulative_distance, haversine, integrate_speed

R = 6_371_008.8


def test_haversine_along_a_meridian_is_radius_times_angle():
    assert haversine(10.0, 20.0, 11.0, 20.0) == pytest.approx(R * math.radians(1.0), rel=1e-12)


def test_haversine_along_the_equator_is_radius_times_angle():
    assert haversine(0.0, 0.0, 0.0, 90.0) == pytest.approx(R * math.pi / 2, rel=1e-12)


def test_haversine_paris_to_london_matches_published_great_circle():
    # published great-circle distance Paris (48.8566, 2.3522) – London (51.5074, -0.1278): about 343.5 km
    assert haversine(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343_500, rel=0.005)


def test_haversine_is_vectorised_and_zero_for_same_point():
    d = haversine(np.array([0.0, 45.0]), np.array([0.0, 7.0]), np.array([0.0, 45.0]), np.array([0.0, 7.0]))
    assert np.all(d == 0)


def test_cumulative_distance_bridges_missing_positions():
    lat = np.array([0.0, np.nan, 0.001, 0.002])
    lng = np.zeros(4)
    d = cumulative_distance(lat, lng)
    step = R * math.radians(0.001)
    assert d[1] == 0.0
    assert d[2] == pytest.approx(step, rel=1e-9)
    assert d[3] == pytest.approx(2 * step, rel=1e-9)


def test_integrate_speed_is_speed_times_time_and_skips_long_gaps():
    t = np.array([0.0, 1.0, 2.0, 100.0, 101.0])
    v = np.full(5, 3.0)
    d = integrate_speed(t, v, max_gap_s=10.0)
    assert d.tolist() == [0.0, 3.0, 6.0, 6.0, 9.0]
