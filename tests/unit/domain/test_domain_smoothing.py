import numpy as np

from domain.smoothing import fill_gaps, median_filter, moving_average


def test_moving_average_of_a_constant_is_the_constant_even_with_nans():
    x = np.array([5.0, 5.0, np.nan, 5.0, 5.0, 5.0])
    out = moving_average(x, 5)
    assert np.isnan(out[2])
    assert np.allclose(out[np.isfinite(x)], 5.0)


def test_moving_average_of_a_line_is_the_line_away_from_edges():
    x = np.arange(20, dtype=float)
    assert np.allclose(moving_average(x, 5)[2:-2], x[2:-2])


def test_median_filter_removes_a_single_sample_spike():
    x = np.array([100.0, 101, 250, 102, 103])
    assert median_filter(x, 3).tolist() == [100.0, 101, 102, 103, 103]


def test_median_filter_keeps_nan_where_input_is_nan():
    x = np.array([100.0, np.nan, 102, 103])
    out = median_filter(x, 3)
    assert np.isnan(out[1]) and out[2] == 102.5  # median of the finite neighbours {102, 103}


def test_fill_gaps_interpolates_over_time():
    t = np.array([0.0, 1.0, 3.0])
    assert fill_gaps(t, np.array([0.0, np.nan, 30.0])).tolist() == [0.0, 10.0, 30.0]
