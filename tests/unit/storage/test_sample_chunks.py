"""Splitting a track into sample rows: bounded chunks that never cross a bucket, every point kept once."""

from __future__ import annotations

import numpy as np

from domain.track import Track
from storage.samples import CHANNELS, _unpack, chunk_rows


def test_chunks_never_cross_a_bucket_and_keep_every_point_in_order() -> None:
    t = np.arange(0, 7300, 1.0)
    track = Track.from_arrays(t, hr=np.full(t.size, 120.0))
    rows = chunk_rows(track, bucket_seconds=3600, chunk_size=1000)
    total = 0
    for bucket, _, n, values in rows:
        times = _unpack(values[0], n)
        assert (times // 3600 == bucket).all()
        assert len(times) <= 1000
        total += len(times)
    assert total == t.size
    assert [c for _, c, _, _ in rows] == list(range(len(rows)))
    assert [b for b, _, _, _ in rows] == sorted(b for b, _, _, _ in rows)
    restored = np.concatenate([_unpack(v[0], n) for _, _, n, v in rows])
    assert np.array_equal(restored, t)


def test_missing_channels_are_stored_as_null_and_read_back_as_nan() -> None:
    track = Track.from_arrays([0.0, 1.0, 2.0], hr=[100.0, np.nan, 102.0])
    ((_bucket, _chunk, _n, values),) = chunk_rows(track, bucket_seconds=3600, chunk_size=600)
    by_name = dict(zip(CHANNELS, values, strict=False))
    assert by_name["lat"] is None and by_name["power"] is None
    hr = _unpack(by_name["hr"], 3)
    assert hr[0] == 100.0 and np.isnan(hr[1]) and hr[2] == 102.0
    assert np.isnan(_unpack(None, 3)).all()


def test_long_channels_are_stored_compressed_and_read_back_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    n = 3600
    t = np.arange(n, dtype=float)
    lat = 47.37 + np.cumsum(rng.normal(0, 1e-5, n))
    hr = np.round(140 + np.cumsum(rng.normal(0, 0.3, n)))
    hr[100:110] = np.nan  # a dropout
    track = Track.from_arrays(t, lat=lat, lng=8.54 + np.cumsum(rng.normal(0, 1e-5, n)), hr=hr)
    ((_b, _c, count, values),) = chunk_rows(track, bucket_seconds=3600, chunk_size=3600)
    by_name = dict(zip(CHANNELS, values, strict=True))
    assert count == n
    for name in ("t", "hr"):  # smooth integer-valued columns shrink several-fold
        assert by_name[name] is not None and len(by_name[name]) < n * 8 / 3
    for name, column in (("t", t), ("lat", lat), ("hr", hr)):
        assert np.array_equal(_unpack(by_name[name], n), column, equal_nan=True)


def test_raw_blobs_written_before_compression_still_read() -> None:
    column = np.linspace(0.0, 1.0, 500)
    assert np.array_equal(_unpack(column.astype("<f8").tobytes(), 500), column)


def test_incompressible_channels_stay_raw_so_raw_and_compressed_never_collide() -> None:
    noise = np.frombuffer(np.random.default_rng(1).bytes(4096 * 8), dtype="<f8").copy()  # random bits
    ((_b, _c, n, values),) = chunk_rows(Track.from_arrays(np.arange(4096.0), power=noise), 3600 * 2, 4096)
    power = dict(zip(CHANNELS, values, strict=True))["power"]
    assert power is not None and len(power) == n * 8  # deflate would not be shorter: kept raw
    assert np.array_equal(_unpack(power, n), noise, equal_nan=True)
