import numpy as np
import pytest

from domain.track import Track


def test_from_points_maps_keys_to_channels_and_none_to_nan():
    tr = Track.from_points(
        [
            {
                "time": 0,
                "lat": 1.0,
                "lng": 2.0,
                "altitude": 3.0,
                "heart_rate": 100,
                "cadence": 80,
                "power": 200,
                "speed": 3.5,
            },
            {"time": 1, "lat": None, "lng": None, "heart_rate": None},
        ]
    )
    assert len(tr) == 2
    assert tr.t.dtype == np.float64
    assert (tr.lat[0], tr.lng[0], tr.alt[0], tr.hr[0], tr.cadence[0], tr.power[0], tr.speed[0]) == (
        1,
        2,
        3,
        100,
        80,
        200,
        3.5,
    )
    assert np.isnan(tr.lat[1]) and np.isnan(tr.hr[1]) and np.isnan(tr.power[1])


def test_empty_track_has_no_samples_and_no_gps():
    tr = Track.empty()
    assert len(tr) == 0 and not tr.has_gps()
    assert len(Track.from_points([])) == 0


def test_has_gps_needs_a_full_position():
    assert not Track.from_points([{"time": 0, "lat": 1.0}]).has_gps()
    assert Track.from_points([{"time": 0, "lat": 1.0, "lng": 2.0}]).has_gps()


def test_channels_of_different_length_are_rejected():
    with pytest.raises(ValueError):
        Track.from_arrays(t=[0, 1, 2], hr=[1, 2])


def test_to_points_round_trips_from_points():
    pts = [
        {
            "time": 0.0,
            "lat": 1.0,
            "lng": 2.0,
            "altitude": None,
            "heart_rate": 90.0,
            "cadence": None,
            "power": None,
            "speed": None,
        }
    ]
    assert Track.from_points(pts).to_points() == pts
