import numpy as np
import pytest

from domain.clean import clean_track, drop_gps_glitches, sanitise_values, sort_and_merge
from domain.geo import cumulative_distance
from domain.track import Track

from .domain_synth import LAT0, metres_to_lat, north_line


def test_unsorted_points_are_sorted_by_time():
    tr = Track.from_arrays(t=[2.0, 0.0, 1.0], hr=[120, 100, 110])
    out = sort_and_merge(tr)
    assert out.t.tolist() == [0.0, 1.0, 2.0]
    assert out.hr.tolist() == [100, 110, 120]


def test_duplicate_timestamps_are_merged_by_averaging_each_channel():
    tr = Track.from_arrays(t=[0.0, 1.0, 1.0, 2.0], hr=[100, 110, 120, np.nan], power=[np.nan, 200, np.nan, 300])
    out = sort_and_merge(tr)
    assert out.t.tolist() == [0.0, 1.0, 2.0]
    assert out.hr[1] == 115
    assert out.power[1] == 200  # the missing value does not drag the mean
    assert np.isnan(out.hr[2])


def test_samples_without_time_are_dropped():
    out = sort_and_merge(Track.from_arrays(t=[0.0, np.nan, 2.0], hr=[1, 2, 3]))
    assert out.t.tolist() == [0.0, 2.0]


def test_out_of_range_values_become_missing_but_sample_is_kept():
    tr = Track.from_arrays(
        t=[0.0, 1.0, 2.0],
        lat=[95.0, 45.0, 0.0],
        lng=[7.0, 190.0, 0.0],
        hr=[-5.0, 300.0, 120.0],
        power=[-1.0, 250.0, 5000.0],
    )
    out = sanitise_values(tr)
    assert len(out) == 3
    assert np.isnan(out.lat).all()  # lat > 90, lng > 180 and the (0, 0) null island are all unusable
    assert np.isnan(out.hr[:2]).all() and out.hr[2] == 120
    assert np.isnan(out.power[0]) and out.power[1] == 250 and np.isnan(out.power[2])


def _with_offsets(track: Track, offsets: dict[int, float]) -> Track:
    """Move some fixes `offset` metres east (a glitch), leaving the rest of the track as is."""
    lng = track.lng.copy()
    for i, metres in offsets.items():
        lng[i] += np.degrees(metres / (6_371_008.8 * np.cos(np.radians(LAT0))))
    return track.replace(lng=lng)


@pytest.mark.parametrize("glitch", [{50: 500.0}, {50: 400.0, 51: 420.0}, {50: 300.0, 51: 310.0, 52: 320.0}])
def test_isolated_gps_glitches_of_up_to_three_fixes_are_dropped(glitch):
    clean = north_line([(200, 3.0)])
    dirty = _with_offsets(clean, glitch)
    out = drop_gps_glitches(dirty, max_speed=12.5)
    assert np.isnan(out.lat[list(glitch)]).all()
    assert np.isfinite(out.hr).sum() == np.isfinite(dirty.hr).sum()
    assert cumulative_distance(out.lat, out.lng)[-1] == pytest.approx(600.0, rel=1e-6)


def test_a_glitched_first_fix_is_dropped():
    dirty = _with_offsets(north_line([(100, 3.0)]), {0: 800.0})
    out = drop_gps_glitches(dirty, max_speed=12.5)
    assert np.isnan(out.lat[0]) and np.isfinite(out.lat[1:]).all()


def test_fast_but_possible_movement_is_not_a_glitch():
    tr = north_line([(100, 11.0)])  # sprinting at 11 m/s is allowed for running
    out = drop_gps_glitches(tr, max_speed=12.5)
    assert np.isfinite(out.lat).all()


def test_clean_track_combines_sorting_merging_and_glitch_removal():
    base = north_line([(300, 3.0)], hr=lambda t, d: np.full(len(t), 140.0))
    dirty = _with_offsets(base, {100: 1000.0})
    order = np.r_[np.arange(150, 301), np.arange(0, 150), [10]]  # shuffled, with one duplicate
    out = clean_track(dirty.take(order), "running")
    assert len(out) == 301
    assert np.all(np.diff(out.t) > 0)
    assert cumulative_distance(out.lat, out.lng)[-1] == pytest.approx(900.0, rel=1e-6)
    assert out.lat[10] == pytest.approx(LAT0 + metres_to_lat(30.0))
