"""Cost is bounded by the number of samples, never by the time span (issue 9 item 7, the domain part).

Two samples 1e8 s apart used to make the best-power grid allocate ~4 GB; memory is asserted structurally
(tracemalloc's peak over the whole call), not by timing.
"""

import tracemalloc

import numpy as np
import pytest

from domain import best_efforts as be
from domain.live import LiveMetrics
from domain.process import process_activity
from domain.streams import build_streams
from domain.track import Track

PEAK_LIMIT_BYTES = 8 * 1024 * 1024


def _everything(sport: str, track: Track) -> object:
    p = process_activity(sport, track)
    build_streams(p, resolution="low")
    build_streams(p, resolution="high")
    live = LiveMetrics(sport=sport)
    live.add(p.track)
    live.view()
    return p


def _peak(sport: str, track: Track) -> tuple[int, object]:
    tracemalloc.start()
    try:
        p = _everything(sport, track)
        return tracemalloc.get_traced_memory()[1], p
    finally:
        tracemalloc.stop()


def test_two_points_1e8_seconds_apart_process_in_bounded_memory():
    track = Track.from_arrays(
        t=[0.0, 1e8], lat=[45.0, 45.001], lng=[7.0, 7.0], power=[200.0, 250.0], hr=[120.0, 130.0], alt=[100.0, 101.0]
    )
    _everything("cycling", track)  # warm-up: imports and caches are not the call's cost
    peak, p = _peak("cycling", track)
    assert peak < PEAK_LIMIT_BYTES
    assert p.elapsed_s == 1e8 and p.moving_s == 0 and p.distance_m == 0  # one pause, nothing recorded
    power = next(e for e in p.best_efforts if e["name"] == "20min_power")
    # the grid holds 200 W on points 0..10 (10 s after the first sample), then 0 until the last point (250 W)
    assert power["watts"] == pytest.approx(11 * 200 / 1200) and power["start_offset_s"] == 0.0


@pytest.mark.parametrize("sport", ["cycling", "running", "other"])
def test_a_few_points_over_30_days_process_in_bounded_memory(sport):
    rng = np.random.default_rng(30)
    t = np.sort(rng.uniform(0, 30 * 86400, 60))
    track = Track.from_arrays(
        t=t,
        lat=45 + np.arange(60) * 1e-4,
        lng=np.full(60, 7.0),
        power=np.full(60, 180.0),
        hr=np.full(60, 140.0),
        cadence=np.full(60, 85.0),
        alt=np.linspace(100, 200, 60),
    )
    _everything(sport, track)
    peak, p = _peak(sport, track)
    assert peak < PEAK_LIMIT_BYTES
    assert p.points_count == 60 and p.elapsed_s == pytest.approx(t[-1] - t[0])


def test_gps_teleports_do_not_make_millions_of_splits():
    """Distance is not time, but a GPS fault can claim 20,000 km between two samples: splits stay O(samples)."""
    n = 200
    lat = np.where(np.arange(n) % 2 == 0, -60.0, 60.0) + np.arange(n) * 1e-3
    track = Track.from_arrays(t=np.arange(n) * 10.0, lat=lat, lng=np.linspace(-170, 170, n))
    _everything("other", track)
    peak, p = _peak("other", track)
    assert peak < PEAK_LIMIT_BYTES
    assert len(p.splits) <= 4 * n


@pytest.mark.parametrize("seed", range(40))
def test_best_power_from_pieces_equals_the_grid(seed):
    """The grid-free computation gives the grid's answer: exactly for whole watts, to rounding otherwise."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    t = np.cumsum(rng.choice([1.0, 1.0, 2.0, 0.5, 12.0, 40.0, 300.0], n)) + rng.uniform(-50, 50)
    whole = seed % 2 == 0
    power = rng.integers(0, 600, n).astype(float) if whole else rng.normal(250, 50, n)
    power[rng.random(n) < 0.1] = np.nan
    for duration in (5, 60, 1200):
        if t[-1] - t[0] + 1 < duration:
            continue
        grid = be._best_window_on_grid(t, power, duration)
        pieces = be._best_window_from_pieces(t, power, duration)
        if whole:
            assert pieces == grid
        else:
            assert pieces[1] == pytest.approx(grid[1], rel=1e-12)
