import numpy as np
import pytest

from domain.calories import calories_from_hr, calories_from_met
from domain.profile import AthleteProfile
from domain.zones import time_in_zones, zone_bounds


def test_max_hr_defaults_to_tanaka_by_age_then_190():
    assert AthleteProfile(birth_year=1984).effective_max_hr(2024) == 180  # 208 - 0.7 × 40
    assert AthleteProfile().effective_max_hr(2024) == 190
    assert AthleteProfile(max_hr=201, birth_year=1984).effective_max_hr(2024) == 201


def test_resting_hr_defaults_to_60():
    assert AthleteProfile().effective_resting_hr() == 60
    assert AthleteProfile(resting_hr=48).effective_resting_hr() == 48


def test_zone_bounds_are_karvonen_percentages_of_heart_rate_reserve():
    # max 200, rest 50: reserve 150; zone lows at 50 + 150 × (.6, .7, .8, .9) = 140, 155, 170, 185
    b = zone_bounds(200, 50)
    assert b == [(1, 0, 139), (2, 140, 154), (3, 155, 169), (4, 170, 184), (5, 185, 200)]


def test_time_in_zones_assigns_each_second_to_its_zone():
    b = zone_bounds(200, 50)
    hr = np.array([100.0, 140, 154, 155, 184, 185, 210, np.nan])
    secs = np.ones(8)
    got = [z["seconds"] for z in time_in_zones(hr, secs, b)]
    assert got == [1.0, 2.0, 1.0, 1.0, 2.0]  # NaN skipped, above max counts as zone 5


def test_met_calories_are_met_times_weight_times_hours():
    assert calories_from_met("running", 70.0, 3600) == pytest.approx(9.8 * 70)
    assert calories_from_met("cycling", 80.0, 1800) == pytest.approx(7.5 * 80 * 0.5)


def test_hr_calories_follow_keytel_for_a_male():
    # Keytel 2005, male: (-55.0969 + 0.6309·HR + 0.1988·W + 0.2017·A) / 4.184 kcal/min
    p = AthleteProfile(weight_kg=70, birth_year=1989, sex="male")
    per_min = (-55.0969 + 0.6309 * 150 + 0.1988 * 70 + 0.2017 * 35) / 4.184
    assert calories_from_hr(150, 3600, p, 2024) == pytest.approx(per_min * 60)


def test_hr_calories_never_go_negative_and_rise_with_heart_rate():
    p = AthleteProfile()
    assert calories_from_hr(30, 600, p, 2024) == 0.0
    assert calories_from_hr(160, 600, p, 2024) > calories_from_hr(120, 600, p, 2024) > 0
