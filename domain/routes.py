"""Route geometry: Google encoded polylines (vectorised), Douglas–Peucker simplification, bounding box."""

from __future__ import annotations

from typing import cast

import numpy as np

from .geo import gps_mask, local_xy

SUMMARY_TOLERANCE_M: float = 10.0  # Douglas–Peucker tolerance of the summary polyline


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (the polyline algorithm's rounding), as int64."""
    return cast(np.ndarray, (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64))


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
    ints = _round_half_away(np.column_stack((lat, lng)) * 10.0**precision)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).ravel()
    v = np.where(deltas < 0, ~(deltas << 1), deltas << 1)
    return _encode_values(v[:2]) + _encode_values(v[2:])  # the absolute first point is much wider than steps


def douglas_peucker(x: np.ndarray, y: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices kept by Douglas–Peucker (planar, tolerance in x/y units); all open segments split per pass.

    Each pass measures every point still inside an open segment against its segment's chord (squared distance to
    the closest point of the chord) and keeps the first farthest point of each segment farther than the tolerance.
    Chord terms are computed once per segment and gathered; a zero-length chord measures plain distance.
    """
    n = len(x)
    if n <= 2:
        return np.arange(n)
    tol2 = tolerance * tolerance
    kept = np.array([0, n - 1])
    active = np.arange(1, n - 1)  # points inside segments not yet known to be within tolerance
    seg = np.zeros(n - 2, dtype=np.intp)  # the segment (between kept[seg] and kept[seg + 1]) of each active point
    while len(active):
        xa, ya = x[kept[:-1]], y[kept[:-1]]
        dxs, dys = x[kept[1:]] - xa, y[kept[1:]] - ya
        l2 = dxs * dxs + dys * dys
        l2[l2 <= 0] = 1.0  # its dot product is 0 too: u = 0
        px, py = x[active] - xa[seg], y[active] - ya[seg]
        dx, dy = dxs[seg], dys[seg]
        u = (px * dx + py * dy) / l2[seg]
        np.clip(u, 0.0, 1.0, out=u)
        px -= u * dx
        py -= u * dy
        d = px * px + py * py
        starts = np.concatenate(([0], np.flatnonzero(seg[1:] != seg[:-1]) + 1))  # active points grouped by segment
        seg_max = np.maximum.reduceat(d, starts)
        open_seg = seg_max > tol2
        if not open_seg.any():
            break
        sizes = np.diff(np.append(starts, len(d)))
        hit = np.flatnonzero(d == np.repeat(np.where(open_seg, seg_max, np.inf), sizes))
        first = hit[np.concatenate(([True], seg[hit[1:]] != seg[hit[:-1]]))]  # first farthest point per open segment
        kept = np.sort(np.concatenate((kept, active[first])))
        still = np.repeat(open_seg, sizes)
        still[first] = False
        active = active[still]
        seg = np.searchsorted(kept, active) - 1
    return kept


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


def route_polylines(
    lat: np.ndarray, lng: np.ndarray, tolerance_m: float = SUMMARY_TOLERANCE_M
) -> tuple[str | None, str | None]:
    """(full polyline, Douglas–Peucker summary polyline) of the usable positions, precision 5."""
    ok = gps_mask(lat, lng)
    if not ok.any():
        return None, None
    la, ln = lat[ok], lng[ok]
    keep = simplify(la, ln, tolerance_m)
    return encode_polyline(la, ln), encode_polyline(la[keep], ln[keep])
