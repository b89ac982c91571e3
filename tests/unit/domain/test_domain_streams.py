import numpy as np

from domain.process import process_activity
from domain.streams import build_streams, downsample

from .domain_synth import north_line


def test_downsample_sizes_by_resolution_and_keeps_ends():
    low, med, high = downsample(5000, "low"), downsample(5000, "medium"), downsample(5000, "high")
    assert len(low) == 100 and len(med) == 1000 and len(high) == 5000
    assert low[0] == 0 and low[-1] == 4999 and np.all(np.diff(low) > 0)
    assert downsample(50, "low").tolist() == list(range(50))


def test_build_streams_gives_strava_keys_with_none_for_missing():
    tr = north_line([(100, 3.0)], hr=lambda t, d: np.where(t == 5, np.nan, 140.0))
    p = process_activity("running", tr)
    s = build_streams(p, p.distance_stream, ["time", "latlng", "distance", "heartrate", "velocity", "watts"])
    assert s["time"][:3] == [0.0, 1.0, 2.0]
    assert s["latlng"][0] == [tr.lat[0], tr.lng[0]]
    assert s["distance"][-1] == p.distance_m
    assert s["heartrate"][5] is None and s["heartrate"][6] == 140.0
    assert abs(s["velocity"][50] - 3.0) < 1e-6
    assert set(s["watts"]) == {None}
    low = build_streams(p, p.distance_stream, ["time"], resolution="low")
    assert len(low["time"]) == 100
