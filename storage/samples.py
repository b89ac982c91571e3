"""Activity samples in Cassandra: columnar chunks (one row per chunk of points), partitioned by (activity_id, bucket).

A chunk is a run of consecutive points (an upload slice or one live batch); each channel is stored as a
little-endian float64 array, NaN for a missing value, NULL for a channel the chunk does not have. A channel of at
least COMPRESS_MIN_POINTS points is stored byte-shuffled and deflated (zlib level 1) when that is shorter: the
time, cadence and heart-rate columns of a recording shrink several-fold, so Cassandra's commit log, memtables and
compactions handle a fraction of the bytes (loadtest/README.md, ## Cassandra). A blob of exactly n * 8 bytes is raw,
anything else compressed: compression is kept only when strictly shorter, so the two never collide, and rows
written before compression existed read as they always did. Rows are immutable and keyed by (bucket, chunk), so a
retried write is an idempotent upsert.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
import zlib
from typing import Any

import numpy as np

from domain.track import Track
from storage.cassandra import Cassandra

CHANNELS = ("t", "lat", "lng", "alt", "hr", "cadence", "power", "speed")
PENDING_SHARDS = 16
# Points per upload row: one 1 Hz hour (a whole bucket) per row. Measured against 600 and 1,800 in
# loadtest/README.md (## Cassandra): fewest requests and least driver CPU per upload, reads no slower.
UPLOAD_CHUNK_POINTS = 3600
LIVE_BATCHES_PER_BUCKET = 720  # a live workout's batch n lives in bucket (n - 1) // 720: an hour of 5 s batches
INSERT_ROW = (
    "INSERT INTO {keyspace}.samples (activity_id, bucket, chunk, n, t, lat, lng, alt, hr, cadence, power, speed)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = (
    "SELECT chunk, n, t, lat, lng, alt, hr, cadence, power, speed FROM {keyspace}.samples"
    " WHERE activity_id = ? AND bucket = ?"
)
_INSERT_AT = INSERT_ROW + " USING TIMESTAMP ?"
_DELETE_PARTITION_AT = "DELETE FROM {keyspace}.samples USING TIMESTAMP ? WHERE activity_id = ? AND bucket = ?"
_PENDING_INSERT = (
    "INSERT INTO {keyspace}.pending_activities (shard, activity_id, user_id, buckets, created_at)"
    " VALUES (?, ?, ?, ?, ?)"
)
_PENDING_DELETE = "DELETE FROM {keyspace}.pending_activities WHERE shard = ? AND activity_id = ?"


def pending_shard(activity_id: uuid.UUID) -> int:
    """Stable shard of the pending-writes table for an activity."""
    return zlib.crc32(activity_id.bytes) % PENDING_SHARDS


COMPRESS_MIN_POINTS = 64


def _pack(column: np.ndarray, compress: bool = True) -> bytes | None:
    """A channel's blob. Live batches pass compress=False: they are packed on a shard's event loop, and a batch of
    a few points has nothing to gain."""
    if column.size == 0 or np.isnan(column).all():
        return None
    raw = np.ascontiguousarray(column, dtype="<f8")
    if compress and raw.size >= COMPRESS_MIN_POINTS:
        # byte-shuffle (all first bytes, then all second bytes, ...): neighbouring values share their high bytes
        packed = zlib.compress(raw.view(np.uint8).reshape(-1, 8).T.tobytes(), 1)
        if len(packed) < raw.nbytes:
            return packed
    return raw.tobytes()


def _unpack(blob: bytes | None, n: int) -> np.ndarray:
    if blob is None:
        return np.full(n, np.nan)
    if len(blob) == n * 8:
        return np.frombuffer(blob, dtype="<f8").astype(np.float64, copy=True)
    shuffled = np.frombuffer(zlib.decompress(blob), dtype=np.uint8)
    return np.ascontiguousarray(shuffled.reshape(8, n).T).view("<f8").reshape(n).astype(np.float64)


def chunk_rows(
    track: Track, bucket_seconds: int, chunk_size: int, first_chunk: int = 0
) -> list[tuple[int, int, int, list[bytes | None]]]:
    """Split a track into (bucket, chunk, points, packed channel values) rows; a chunk never spans two buckets."""
    rows: list[tuple[int, int, int, list[bytes | None]]] = []
    if len(track) == 0:
        return rows
    bucket_of = (track.t // bucket_seconds).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, np.diff(bucket_of) != 0])
    ends = np.r_[starts[1:], len(track)]
    chunk = first_chunk
    for s, e in zip(starts, ends, strict=False):
        for lo in range(int(s), int(e), chunk_size):
            hi = min(lo + chunk_size, int(e))
            rows.append((int(bucket_of[lo]), chunk, hi - lo, [_pack(getattr(track, c)[lo:hi]) for c in CHANNELS]))
            chunk += 1
    return rows


class SampleStore:
    """Writes and reads activity samples; every method is a thin, idempotent Cassandra operation."""

    def __init__(self, cassandra: Cassandra, bucket_seconds: int, chunk_size: int = UPLOAD_CHUNK_POINTS) -> None:
        self.cas = cassandra
        self.bucket_seconds = bucket_seconds
        self.chunk_size = chunk_size

    async def mark_pending(self, activity_id: uuid.UUID, user_id: uuid.UUID, buckets: list[int]) -> None:
        """Record that samples are being written ahead of their summary (the reconciler's safety net)."""
        await self.cas.execute(
            self.cas.prepare(_PENDING_INSERT),
            (pending_shard(activity_id), activity_id, user_id, set(buckets), dt.datetime.now(dt.UTC)),
        )

    async def clear_pending(self, activity_id: uuid.UUID) -> None:
        """The summary committed: the samples are no longer at risk of being orphans."""
        await self.cas.execute(self.cas.prepare(_PENDING_DELETE), (pending_shard(activity_id), activity_id))

    async def write_track(self, activity_id: uuid.UUID, track: Track) -> list[int]:
        """Write every point of a track, one request per bucket; returns the sorted buckets written.

        Each bucket is one single-partition UNLOGGED batch (atomic and isolated within the partition) that deletes
        the partition just before (timestamp - 1 µs) it inserts the chunks: a retried upload replaces whatever an
        earlier attempt left, even one written with another chunk size, instead of leaving its extra chunks."""
        # packing deflates (zlib releases the GIL): off the event loop
        rows = await asyncio.to_thread(chunk_rows, track, self.bucket_seconds, self.chunk_size)
        insert, delete = self.cas.prepare(_INSERT_AT), self.cas.prepare(_DELETE_PARTITION_AT)
        at = time.time_ns() // 1000
        by_bucket: dict[int, list[Any]] = {}
        for bucket, chunk, n, values in rows:
            by_bucket.setdefault(bucket, [delete.bind((at - 1, activity_id, bucket))]).append(
                insert.bind((activity_id, bucket, chunk, n, *values, at))
            )
        await asyncio.gather(*(self.cas.execute(self.cas.unlogged_batch(stmts)) for stmts in by_bucket.values()))
        return sorted(by_bucket)

    def buckets_of(self, track: Track) -> list[int]:
        """The buckets a track's points fall in."""
        if len(track) == 0:
            return []
        return sorted({int(b) for b in np.unique(track.t // self.bucket_seconds)})

    async def write_batch(self, activity_id: uuid.UUID, seq: int, track: Track) -> int:
        """Store one live batch as chunk `seq` (idempotent); returns its bucket."""
        bucket = live_bucket(seq)
        values = [_pack(getattr(track, c), compress=False) for c in CHANNELS]
        await self.cas.execute(self.cas.prepare(INSERT_ROW), (activity_id, bucket, seq, len(track), *values))
        return bucket

    async def read_batches(self, activity_id: uuid.UUID) -> dict[int, Track]:
        """Every stored live batch of an activity by sequence number (buckets scanned until an empty one)."""
        stmt = self.cas.prepare(_SELECT)
        batches: dict[int, Track] = {}
        bucket = 0
        while True:
            rows = list(await self.cas.execute(stmt, (activity_id, bucket)))
            if not rows:
                return batches
            for row in rows:
                batches[row.chunk] = Track(**{c: _unpack(getattr(row, c), row.n) for c in CHANNELS})
            bucket += 1

    async def purge(self, activity_id: uuid.UUID, buckets: list[int]) -> None:
        """Delete an activity's sample partitions now (idempotent)."""
        from storage.purges import delete_sample_partitions

        await delete_sample_partitions(self.cas, activity_id, list(buckets))

    async def read_track(self, activity_id: uuid.UUID, buckets: list[int]) -> Track:
        """Every stored point of an activity, in time order."""
        stmt = self.cas.prepare(_SELECT)
        results = await asyncio.gather(*(self.cas.execute(stmt, (activity_id, b)) for b in sorted(buckets)))
        columns: dict[str, list[np.ndarray]] = {c: [] for c in CHANNELS}
        for result in results:
            for row in result:
                for c in CHANNELS:
                    columns[c].append(_unpack(getattr(row, c), row.n))
        if not columns["t"]:
            return Track.empty()
        return Track(**{c: np.concatenate(columns[c]) for c in CHANNELS})


def live_bucket(seq: int) -> int:
    """The bucket of live batch `seq` (1-based)."""
    return (seq - 1) // LIVE_BATCHES_PER_BUCKET
