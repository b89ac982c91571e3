"""SampleStore.write_track against the real Cassandra: one row per 1 Hz hour, and a retried upload replaces what an
earlier attempt left in its partitions (even one written with another chunk size)."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np

from config.settings import Settings
from domain.track import Track
from storage.cassandra import Cassandra
from storage.samples import UPLOAD_CHUNK_POINTS, SampleStore


def _track(n: int, hr: float) -> Track:
    t = np.arange(n, dtype=np.float64)
    return Track.from_arrays(t, lat=45 + t * 1e-5, lng=7 + t * 1e-5, hr=np.full(n, hr))


def test_an_hour_of_1hz_points_is_one_row_per_bucket(settings: Settings) -> None:
    async def go() -> tuple[list[int], list[tuple[int, int, int]], int]:
        cas = Cassandra(settings)
        store = SampleStore(cas, settings.sample_bucket_seconds)
        aid = uuid.uuid4()
        try:
            buckets = await store.write_track(aid, _track(5000, 120.0))
            stmt = cas.prepare("SELECT bucket, chunk, n FROM {keyspace}.samples WHERE activity_id = ? AND bucket = ?")
            rows = [(r.bucket, r.chunk, r.n) for b in buckets for r in await cas.execute(stmt, (aid, b))]
            return buckets, rows, len(await store.read_track(aid, buckets))
        finally:
            await store.purge(aid, [0, 1])
            cas.close()

    buckets, rows, points = asyncio.run(go())
    assert UPLOAD_CHUNK_POINTS == 3600 and settings.sample_bucket_seconds == 3600
    assert buckets == [0, 1] and rows == [(0, 0, 3600), (1, 1, 1400)] and points == 5000


def test_a_retried_upload_replaces_an_earlier_attempt_written_with_smaller_chunks(settings: Settings) -> None:
    async def go() -> Track:
        cas = Cassandra(settings)
        aid = uuid.uuid4()
        try:
            # first attempt (e.g. before a deploy that changed the chunk size): 600-point rows, chunks 0..6
            await SampleStore(cas, settings.sample_bucket_seconds, chunk_size=600).write_track(aid, _track(3700, 100.0))
            # the retry: 3,600-point rows (chunks 0 and 1) must not leave chunks 2..6 of the first attempt behind
            store = SampleStore(cas, settings.sample_bucket_seconds)
            await store.write_track(aid, _track(3700, 150.0))
            return await store.read_track(aid, [0, 1])
        finally:
            await SampleStore(cas, settings.sample_bucket_seconds).purge(aid, [0, 1])
            cas.close()

    track = asyncio.run(go())
    assert len(track) == 3700
    assert np.array_equal(track.t, np.arange(3700, dtype=np.float64))
    assert (track.hr == 150.0).all()
