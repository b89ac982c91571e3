import math

import numpy as np
import polyline
import pytest

from domain.routes import bbox, douglas_peucker, encode_polyline, route_polylines, simplify


def test_encode_matches_googles_documented_example():
    lat, lng = np.array([38.5, 40.7, 43.252]), np.array([-120.2, -120.95, -126.453])
    assert encode_polyline(lat, lng) == "_p~iF~ps|U_ulLnnqC_mqNvxq`@"


@pytest.mark.parametrize("seed", range(5))
def test_encode_equals_the_polyline_library_on_random_tracks(seed):
    rng = np.random.default_rng(seed)
    lat = np.clip(rng.uniform(-80, 80) + np.cumsum(rng.normal(0, 0.01, 500)), -90, 90)
    lng = np.clip(rng.uniform(-170, 170) + np.cumsum(rng.normal(0, 0.5, 500)), -180, 180)
    lat[::7] = np.round(lat[::7], 5) + 0.000005  # exact halves exercise the rounding rule
    assert encode_polyline(lat, lng) == polyline.encode(list(zip(lat.tolist(), lng.tolist(), strict=False)), 5)


def test_encode_of_nothing_is_empty():
    assert encode_polyline(np.empty(0), np.empty(0)) == ""


def _reference_dp(pts: list[tuple[float, float]], tol: float) -> set[int]:
    """Textbook recursive Douglas–Peucker (point-to-segment distance)."""

    def dist(p, a, b):
        (px, py), (ax, ay), (bx, by) = p, a, b
        dx, dy = bx - ax, by - ay
        L2 = dx * dx + dy * dy
        u = 0.0 if L2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / L2))
        return math.hypot(px - ax - u * dx, py - ay - u * dy)

    keep = {0, len(pts) - 1}

    def rec(i, j):
        if j - i < 2:
            return
        ds = [dist(pts[k], pts[i], pts[j]) for k in range(i + 1, j)]
        m = max(ds)
        if m > tol:
            k = i + 1 + ds.index(m)
            keep.add(k)
            rec(i, k)
            rec(k, j)

    rec(0, len(pts) - 1)
    return keep


@pytest.mark.parametrize("seed", range(5))
def test_douglas_peucker_keeps_the_same_points_as_the_textbook_algorithm(seed):
    rng = np.random.default_rng(seed)
    x, y = np.cumsum(rng.normal(0, 5, 400)), np.cumsum(rng.normal(0, 5, 400))
    got = douglas_peucker(x, y, 8.0)
    assert set(got.tolist()) == _reference_dp(list(zip(x.tolist(), y.tolist(), strict=False)), 8.0)


def test_douglas_peucker_reduces_a_straight_line_to_its_ends():
    x = np.linspace(0, 1000, 100)
    assert douglas_peucker(x, 2 * x, 1.0).tolist() == [0, 99]


def test_simplify_square_keeps_its_four_corners():
    # a 1 km square walked at 1 m spacing, around (45, 7)
    side = np.linspace(0, 1000, 1001)[:-1]
    north = np.r_[side, np.full(1000, 1000.0), 1000.0 - side, np.zeros(1000)]
    east = np.r_[np.zeros(1000), side, np.full(1000, 1000.0), 1000.0 - side]
    north, east = np.r_[north, 0.0], np.r_[east, 0.0]
    lat = 45 + np.degrees(north / 6_371_008.8)
    lng = 7 + np.degrees(east / (6_371_008.8 * math.cos(math.radians(45))))
    keep = simplify(lat, lng, 5.0)
    assert keep.tolist() == [0, 1000, 2000, 3000, 4000]


def test_bbox_is_min_and_max_of_valid_positions():
    lat = np.array([1.0, np.nan, -2.0, 3.0])
    lng = np.array([10.0, 50.0, 20.0, -5.0])
    assert bbox(lat, lng) == [-2.0, -5.0, 3.0, 20.0]
    assert bbox(np.array([np.nan]), np.array([np.nan])) is None


def test_route_polylines_decode_back_to_the_route_and_summary_is_shorter():
    t = np.linspace(0, 2 * math.pi, 2000)
    lat, lng = 45 + 0.01 * np.sin(t), 7 + 0.01 * np.cos(t)
    full, summary = route_polylines(lat, lng)
    decoded = np.array(polyline.decode(full, 5))
    assert decoded.shape == (2000, 2)
    assert np.abs(decoded[:, 0] - lat).max() <= 0.5e-5 + 1e-12
    assert len(polyline.decode(summary, 5)) < 200
    assert route_polylines(np.array([np.nan]), np.array([np.nan])) == (None, None)
