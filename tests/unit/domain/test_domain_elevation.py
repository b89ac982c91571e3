import numpy as np
import pytest

from domain.elevation import ELEVATION_THRESHOLD_M, gain_loss, smooth_altitude


def test_flat_noise_below_threshold_accumulates_nothing():
    rng = np.random.default_rng(1)
    alt = 200 + rng.uniform(-1.0, 1.0, 5000)  # ±1 m noise, swing < 3 m threshold
    assert gain_loss(alt) == (0.0, 0.0)


def test_monotonic_climb_then_descent_counts_full_amplitude():
    alt = np.concatenate((np.linspace(100, 250, 500), np.linspace(250, 180, 300)))
    gain, loss = gain_loss(alt)
    assert gain == pytest.approx(150.0)
    assert loss == pytest.approx(70.0)


def test_swings_larger_than_threshold_are_all_counted():
    # five 10 m hills: up 10 and down 10 each
    alt = np.tile(np.r_[np.linspace(0, 10, 20), np.linspace(10, 0, 20)[1:]], 5)
    gain, loss = gain_loss(alt)
    assert gain == pytest.approx(50.0)
    assert loss == pytest.approx(50.0)


def test_swings_smaller_than_threshold_on_a_climb_do_not_add_gain():
    # climb from 100 m to a top of 152 m in +4/-2 m wobbles: gain is top - bottom, not the sum of the +4s (100)
    steps = np.r_[0.0, np.tile([4.0, -2.0], 25)]
    alt = 100 + np.cumsum(steps)
    gain, loss = gain_loss(alt)
    assert ELEVATION_THRESHOLD_M > 2
    assert alt.max() == 152.0
    assert gain == pytest.approx(52.0)
    assert loss == 0.0


def test_smoothing_removes_a_two_sample_spike():
    alt = np.full(50, 300.0)
    alt[20:22] = 900.0
    assert np.allclose(smooth_altitude(alt), 300.0)
    assert gain_loss(smooth_altitude(alt)) == (0.0, 0.0)
