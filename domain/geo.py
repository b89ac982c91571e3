"""Great-circle geometry on numpy arrays."""

from __future__ import annotations

from typing import cast

import numpy as np

EARTH_RADIUS_M: float = 6_371_008.8  # IUGG mean radius


def haversine(
    lat1: np.ndarray | float, lng1: np.ndarray | float, lat2: np.ndarray | float, lng2: np.ndarray | float
) -> np.ndarray:
    """Great-circle distance in metres between (lat1, lng1) and (lat2, lng2), degrees, elementwise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lng2) - np.asarray(lng1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return cast(np.ndarray, 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def haversine_steps(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """haversine(lat[:-1], lng[:-1], lat[1:], lng[1:]), bit for bit, converting each point once instead of twice."""
    p = np.radians(lat)
    c = np.cos(p)
    dlmb = np.radians(np.diff(lng))
    a = np.sin(np.diff(p) / 2) ** 2 + c[:-1] * c[1:] * np.sin(dlmb / 2) ** 2
    return cast(np.ndarray, 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def gps_mask(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Samples with a usable position (finite and within ±90 / ±180)."""
    return cast(np.ndarray, np.isfinite(lat) & np.isfinite(lng) & (np.abs(lat) <= 90) & (np.abs(lng) <= 180))


def cumulative_distance(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Cumulative path length (m) at each sample; samples without GPS carry the last value forward."""
    n = len(lat)
    out = np.zeros(n)
    idx = np.flatnonzero(gps_mask(lat, lng))
    if len(idx) < 2:
        return out
    seg = haversine_steps(lat[idx], lng[idx])
    steps = np.zeros(n)
    steps[idx[1:]] = seg
    return np.cumsum(steps)


def integrate_speed(t: np.ndarray, speed: np.ndarray, max_gap_s: float) -> np.ndarray:
    """Cumulative distance (m) from a speed channel (trapezoids; gaps longer than max_gap_s add nothing)."""
    n = len(t)
    if n < 2:
        return np.zeros(n)
    v = np.nan_to_num(speed, nan=0.0).clip(min=0.0)
    dt = np.diff(t)
    steps = np.where(dt <= max_gap_s, 0.5 * (v[1:] + v[:-1]) * dt, 0.0)
    return np.concatenate(([0.0], np.cumsum(steps)))


def local_xy(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular projection (metres) around the mean latitude; good for small-extent geometry."""
    lat0 = np.radians(np.nanmean(lat))
    x = np.radians(lng) * EARTH_RADIUS_M * np.cos(lat0)
    y = np.radians(lat) * EARTH_RADIUS_M
    return x, y


def destination(lat: float, lng: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """Point reached from (lat, lng) after distance_m along an initial bearing (great circle)."""
    d = distance_m / EARTH_RADIUS_M
    p1, l1, b = np.radians(lat), np.radians(lng), np.radians(bearing_deg)
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(b))
    l2 = l1 + np.arctan2(np.sin(b) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return float(np.degrees(p2)), float((np.degrees(l2) + 540) % 360 - 180)
