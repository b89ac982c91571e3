"""Coalescing writer for live sample rows: the rows a process queues in one event-loop tick go to Cassandra together.

A WorkoutShard hosts many workouts; each live batch it acknowledges is one row of `samples` in its own partition
(activity_id, bucket). `SampleWriter.write_batch` has the signature of `SampleStore.write_batch` and resolves only
when Cassandra has acknowledged the row at the configured consistency (so "acked means stored" is unchanged), but
the rows queued during one event-loop tick are flushed together on the next one:

- `replica_batches` (default): rows are grouped by the node the token-aware policy would pick first for them (the
  partition's first replica), and each group is sent as UNLOGGED batches of at most `max_batch_rows` rows /
  `max_batch_bytes` bytes, routed to that replica. One request per replica per tick instead of one per row; no
  multi-partition batch crosses coordinators (the anti-pattern), and no batch log (these rows are independent,
  idempotent upserts). A batch that fails fails every row in it; each caller retries (the watch resends the batch).
- `concurrent`: the tick's rows are sent as separate requests straight from the flush callback (no task per row).
- `single`: one request per call, no coalescing (what SampleStore.write_batch does); for comparison.

Measured in loadtest/README.md (## Cassandra).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any, Literal, Protocol

from domain.track import Track
from storage.samples import CHANNELS, INSERT_ROW, _pack, live_bucket

Mode = Literal["replica_batches", "concurrent", "single"]
MODES: tuple[str, ...] = ("replica_batches", "concurrent", "single")
# Bounds of one batch. Measured (loadtest/README.md, ## Cassandra): 32-row batches sustain twice the rows/s of
# 10-row ones on the 2-core box. Cassandra refuses multi-partition batches above batch_size_fail_threshold (50 KiB by
# default) and logs a warning per batch above batch_size_warn_threshold (5 KiB by default; the project's
# cassandra.yaml raises it to 32 KiB and unlogged_batch_across_partitions_warn_threshold to 32: set the same on a
# cluster, or pass smaller bounds). A 5-point live row with 8 channels counts ~545 bytes there.
DEFAULT_MAX_BATCH_ROWS = 32
DEFAULT_MAX_BATCH_BYTES = 24 * 1024
_ROW_OVERHEAD = 224  # key columns + per-cell overhead as Cassandra counts a row's size (blob bytes added to it)


class CassandraPort(Protocol):
    """What the writer needs of storage.cassandra.Cassandra (a fake in the unit tests)."""

    def prepare(self, cql: str) -> Any: ...

    def execute_future(
        self, statement: Any, params: Any = None, timeout: float | None = None
    ) -> asyncio.Future[Any]: ...

    def primary_replica(self, statement: Any) -> Any: ...

    def unlogged_batch(self, statements: list[Any]) -> Any: ...


class SampleWriter:
    """Writes live sample rows, coalescing the rows of one event-loop tick (see the module docstring)."""

    def __init__(
        self,
        cas: CassandraPort,
        *,
        mode: str = "replica_batches",
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"SampleWriter mode must be one of {MODES} (got {mode!r})")
        if max_batch_rows < 1 or max_batch_bytes < 1:
            raise ValueError("max_batch_rows and max_batch_bytes must be positive")
        self.cas = cas
        self.mode = mode
        self.max_batch_rows = max_batch_rows
        self.max_batch_bytes = max_batch_bytes
        self._pending: list[tuple[tuple[Any, ...], int, asyncio.Future[None]]] = []
        self._scheduled = False
        self.rows = 0
        self.requests = 0
        self.flushes = 0

    async def write_batch(self, activity_id: uuid.UUID, seq: int, track: Track) -> int:
        """Store one live batch as chunk `seq` of its activity (idempotent); returns its bucket once Cassandra has it.
        Raises StorageUnavailable when Cassandra could not take it (nothing is acknowledged then)."""
        bucket = live_bucket(seq)
        values = [_pack(getattr(track, c), compress=False) for c in CHANNELS]
        size = _ROW_OVERHEAD + sum(len(v) for v in values if v is not None)
        await self.write_row((activity_id, bucket, seq, len(track), *values), size)
        return bucket

    async def write_row(self, params: tuple[Any, ...], size: int = 512) -> None:
        """Insert one `samples` row (the 12 values of storage.samples' INSERT); resolves when Cassandra has it."""
        if self.mode == "single":
            self.rows += 1
            self.requests += 1
            await self.cas.execute_future(self.cas.prepare(INSERT_ROW), params)
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((params, size, done))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        await done

    def stats(self) -> dict[str, Any]:
        """Rows written, requests sent, flushes, and rows per request so far."""
        return {
            "mode": self.mode,
            "rows": self.rows,
            "requests": self.requests,
            "flushes": self.flushes,
            "rows_per_request": round(self.rows / self.requests, 2) if self.requests else None,
        }

    # ------------------------------------------------------------------------------------------ flushing

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        pending = [p for p in pending if not p[2].done()]  # a caller that was cancelled no longer waits
        if not pending:
            return
        self.flushes += 1
        self.rows += len(pending)
        try:
            stmt = self.cas.prepare(INSERT_ROW)
            bound = [(stmt.bind(params), size, done) for params, size, done in pending]
        except Exception as exc:  # noqa: BLE001 - every waiting caller gets the failure (StorageUnavailable)
            for _, _, done in pending:
                _fail(done, exc)
            return
        if self.mode == "concurrent":
            for statement, _, done in bound:
                self._send(statement, [done])
            return
        groups: dict[Any, list[tuple[Any, int, asyncio.Future[None]]]] = defaultdict(list)
        for item in bound:
            try:
                replica = self.cas.primary_replica(item[0])
            except Exception:  # noqa: BLE001 - no token map: one group, the load-balancing policy picks
                replica = None
            groups[replica].append(item)
        for members in groups.values():
            for part in self._split(members):
                if len(part) == 1:
                    self._send(part[0][0], [part[0][2]])
                else:
                    self._send(self.cas.unlogged_batch([s for s, _, _ in part]), [d for _, _, d in part])

    def _split(
        self, members: list[tuple[Any, int, asyncio.Future[None]]]
    ) -> list[list[tuple[Any, int, asyncio.Future[None]]]]:
        parts: list[list[tuple[Any, int, asyncio.Future[None]]]] = []
        current: list[tuple[Any, int, asyncio.Future[None]]] = []
        size = 0
        for item in members:
            if current and (len(current) >= self.max_batch_rows or size + item[1] > self.max_batch_bytes):
                parts.append(current)
                current, size = [], 0
            current.append(item)
            size += item[1]
        if current:
            parts.append(current)
        return parts

    def _send(self, statement: Any, waiters: list[asyncio.Future[None]]) -> None:
        self.requests += 1
        try:
            future = self.cas.execute_future(statement)
        except Exception as exc:  # noqa: BLE001 - e.g. StorageUnavailable while connecting
            for done in waiters:
                _fail(done, exc)
            return

        def resolve(f: asyncio.Future[Any]) -> None:
            exc = f.exception() if not f.cancelled() else asyncio.CancelledError()
            for done in waiters:
                if done.done():
                    continue
                if exc is None:
                    done.set_result(None)
                else:
                    done.set_exception(exc)

        future.add_done_callback(resolve)


def _fail(done: asyncio.Future[None], exc: BaseException) -> None:
    if not done.done():
        done.set_exception(exc)
