"""Property tests: any mix of recoverable noise is processed without error and with consistent figures."""

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.process import SPORTS, process_activity
from domain.track import Track

maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
point = st.fixed_dictionaries(
    {
        "time": st.one_of(st.floats(0, 5000), st.just(float("nan"))),
        "lat": maybe(st.floats(44.99, 45.01)),
        "lng": maybe(st.floats(6.99, 7.01)),
        "altitude": maybe(st.floats(-50, 3000)),
        "heart_rate": maybe(st.floats(-10, 260)),
        "cadence": maybe(st.floats(-5, 200)),
        "power": maybe(st.floats(-5, 1500)),
        "speed": maybe(st.floats(-1, 30)),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(point, max_size=120), st.sampled_from(SPORTS))
def test_any_noisy_track_processes_to_consistent_json(points, sport):
    p = process_activity(sport, Track.from_points(points))
    d = p.summary_dict()
    json.dumps(d, allow_nan=False)
    assert p.distance_m >= 0 and p.elapsed_s >= 0
    assert 0 <= p.moving_s <= p.elapsed_s + 1e-6
    assert sum(z["seconds"] for z in p.hr_zones) <= p.elapsed_s + 1e-6
    assert abs(sum(s["distance_m"] for s in p.splits) - (p.distance_m if p.splits else 0)) < 1e-6
    assert len(p.track) == len(p.distance_stream) == p.points_count
    assert np.all(np.diff(p.track.t) > 0)
    if p.hr_max is not None:
        assert 20 <= p.hr_max <= 250
