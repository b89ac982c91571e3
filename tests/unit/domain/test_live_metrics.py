"""Live metrics and batch sequencing: pure, incremental, bounded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from domain.live import LiveMetrics
from domain.sequencing import BatchSequencer
from domain.track import Track

R = 6_371_008.8


def eastward(n: int, speed: float, t0: float = 0.0, hr: float = 140.0) -> Track:
    """n points 1 s apart going east at `speed` m/s along the equator."""
    t = t0 + np.arange(n, dtype=float)
    lng = np.degrees(t * speed / R)
    return Track.from_arrays(t, lat=np.zeros(n), lng=lng, hr=np.full(n, hr))


def test_distance_and_moving_time_accumulate_across_batches() -> None:
    m = LiveMetrics(sport="running")
    m.add(eastward(60, 4.0).take(np.arange(0, 30)))
    m.add(eastward(60, 4.0).take(np.arange(30, 60)))
    v = m.view()
    assert v["distance"] == pytest.approx(59 * 4.0, rel=1e-6)
    assert v["moving_time"] == pytest.approx(59.0)
    assert v["average_pace"] == pytest.approx(250.0, rel=1e-6)
    assert v["current_pace"] == pytest.approx(250.0, rel=1e-6)
    assert v["average_heart_rate"] == pytest.approx(140.0)
    assert v["points_received"] == 60 and v["elapsed_time"] == 59.0


def test_repeated_points_are_ignored() -> None:
    m = LiveMetrics(sport="running")
    track = eastward(20, 3.0)
    m.add(track)
    m.add(track)
    assert m.view()["points_received"] == 20
    assert m.view()["distance"] == pytest.approx(19 * 3.0, rel=1e-6)


def test_a_gps_jump_faster_than_the_sport_allows_is_skipped() -> None:
    track = eastward(10, 3.0)
    lng = track.lng.copy()
    lng[5] += math.degrees(500 / R)  # 500 m off for one sample
    m = LiveMetrics(sport="running")
    m.add(track.replace(lng=lng))
    assert m.view()["distance"] == pytest.approx(9 * 3.0, rel=0.01)


def test_manual_pause_stops_distance_and_standing_still_is_auto_pause() -> None:
    m = LiveMetrics(sport="running")
    m.add(eastward(20, 4.0))
    m.paused = True
    m.add(eastward(20, 4.0, t0=20.0))
    assert m.view()["distance"] == pytest.approx(19 * 4.0, rel=0.01)
    m.paused = False
    still = Track.from_arrays(np.arange(40.0, 70.0), lat=np.zeros(30), lng=np.full(30, m.last_lng))
    m.add(still)
    assert m.view()["auto_paused"] is True


def test_splits_advance_every_kilometre() -> None:
    m = LiveMetrics(sport="running")
    m.add(eastward(600, 4.0))  # 2,396 m
    split = m.view()["current_split"]
    assert split["split"] == 3
    assert split["distance"] == pytest.approx(2396 - 2000, rel=0.01)


def test_sequencer_acks_the_highest_contiguous_batch_and_lists_gaps() -> None:
    s = BatchSequencer()
    assert s.record(1) == [1]
    assert s.record(4) == [] and s.record(3) == []
    assert s.acked == 1 and s.missing() == [2] and s.highest == 4
    assert s.record(2) == [2, 3, 4]
    assert s.acked == 4 and s.missing() == []
    assert s.seen(3) and s.record(3) == []
