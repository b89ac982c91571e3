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
    for bucket, _, values in rows:
        times = _unpack(values[0], len(values[0]) // 8)
        assert (times // 3600 == bucket).all()
        assert len(times) <= 1000
        total += len(times)
    assert total == t.size
    assert [c for _, c, _ in rows] == list(range(len(rows)))
    assert [b for b, _, _ in rows] == sorted(b for b, _, _ in rows)
    restored = np.concatenate([_unpack(v[0], len(v[0]) // 8) for _, _, v in rows])
    assert np.array_equal(restored, t)


def test_missing_channels_are_stored_as_null_and_read_back_as_nan() -> None:
    track = Track.from_arrays([0.0, 1.0, 2.0], hr=[100.0, np.nan, 102.0])
    ((_bucket, _chunk, values),) = chunk_rows(track, bucket_seconds=3600, chunk_size=600)
    by_name = dict(zip(CHANNELS, values, strict=False))
    assert by_name["lat"] is None and by_name["power"] is None
    hr = _unpack(by_name["hr"], 3)
    assert hr[0] == 100.0 and np.isnan(hr[1]) and hr[2] == 102.0
    assert np.isnan(_unpack(None, 3)).all()
