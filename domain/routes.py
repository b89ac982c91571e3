"""Route geometry: Google encoded polylines (vectorised), Douglas–Peucker simplification, bounding box."""
from __future__ import annotations

import numpy as np

from .geo import gps_mask, local_xy

SUMMARY_TOLERANCE_M: float = 10.0  # Douglas–Peucker tolerance of the summary polyline


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (the polyline algorithm's rounding), as int64."""
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def _encode_values(v: np.ndarray) -> str:
    """Polyline characters of zig-zagged non-negative integers, 5 bits per character, low bits first."""
    if len(v) == 0:
        return ""
    width = max(1, -(-int(v.max()).bit_length() // 5))  # chunks needed by the largest value
    n_chunks = np.ones(len(v), dtype=np.int64)
    for j in range(1, width):
        n_chunks += v >= (1 << (5 * j))
    shifts = 5 * np.arange(width, dtype=np.int64)
    chunks = (v[:, None] >> shifts[None, :]) & 0x1F
    k = np.arange(width)[None, :]
    codes = chunks + 63 + 0x20 * (k < (n_chunks[:, None] - 1))
    return codes[k < n_chunks[:, None]].astype(np.uint8).tobytes().decode("ascii")


def encode_polyline(lat: np.ndarray, lng: np.ndarray, precision: int = 5) -> str:
    """Google encoded polyline of (lat, lng) degrees; identical output to polyline.encode, without a Python loop."""
    if len(lat) == 0:
        return ""
    ints = _round_half_away(np.column_stack((lat, lng)) * 10.0 ** precision)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).ravel()
    v = np.where(deltas < 0, ~(deltas << 1), deltas << 1)
    return _encode_values(v[:2]) + _encode_values(v[2:])  # the absolute first point is much wider than steps


def _sq_distances_to_chords(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Squared planar distance of each point i[k] to the segment from point a[k] to point b[k]."""
    px, py = x[i] - x[a], y[i] - y[a]
    dx, dy = x[b] - x[a], y[b] - y[a]
    L2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(L2 > 0, (px * dx + py * dy) / L2, 0.0)
    u = np.minimum(np.maximum(u, 0.0), 1.0)
    ex, ey = px - u * dx, py - u * dy
    return ex * ex + ey * ey


def douglas_peucker(x: np.ndarray, y: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices kept by Douglas–Peucker (planar, tolerance in x/y units); all open segments split per pass."""
    n = len(x)
    if n <= 2:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[[0, n - 1]] = True
    active = np.arange(1, n - 1)  # points inside segments not yet known to be within tolerance
    while len(active):
        kept = np.flatnonzero(keep)
        seg = np.cumsum(keep)[active] - 1  # segment (between kept points) each active point lies in
        d = _sq_distances_to_chords(x, y, kept[seg], kept[seg + 1], active)
        starts = np.r_[0, np.flatnonzero(seg[1:] != seg[:-1]) + 1]  # active points are grouped by segment
        sizes = np.diff(np.append(starts, len(d)))
        seg_max = np.repeat(np.maximum.reduceat(d, starts), sizes)
        open_seg = seg_max > tolerance * tolerance
        cand = np.flatnonzero(open_seg & (d == seg_max))
        cs = seg[cand]  # non-decreasing: keep the first farthest point of each open segment
        first = cand[np.r_[True, cs[1:] != cs[:-1]]] if len(cand) else cand
        keep[active[first]] = True
        active = active[open_seg & ~keep[active]]
    return np.flatnonzero(keep)


def simplify(lat: np.ndarray, lng: np.ndarray, tolerance_m: float = SUMMARY_TOLERANCE_M) -> np.ndarray:
    """Indices of a Douglas–Peucker simplification of a GPS path, tolerance in metres."""
    x, y = local_xy(lat, lng)
    return douglas_peucker(x, y, tolerance_m)


def bbox(lat: np.ndarray, lng: np.ndarray) -> list[float] | None:
    """[min_lat, min_lng, max_lat, max_lng] of the usable positions, or None."""
    ok = gps_mask(lat, lng)
    if not ok.any():
        return None
    return [float(lat[ok].min()), float(lng[ok].min()), float(lat[ok].max()), float(lng[ok].max())]


def route_polylines(lat: np.ndarray, lng: np.ndarray,
                    tolerance_m: float = SUMMARY_TOLERANCE_M) -> tuple[str | None, str | None]:
    """(full polyline, Douglas–Peucker summary polyline) of the usable positions, precision 5."""
    ok = gps_mask(lat, lng)
    if not ok.any():
        return None, None
    la, ln = lat[ok], lng[ok]
    keep = simplify(la, ln, tolerance_m)
    return encode_polyline(la, ln), encode_polyline(la[keep], ln[keep])
