"""SampleWriter with a fake Cassandra: coalescing per event-loop tick, grouping by replica, batch bounds, failures."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from domain.track import Track
from storage.errors import StorageUnavailable
from storage.sample_writer import _ROW_OVERHEAD, SampleWriter
from storage.samples import CHANNELS, LIVE_BATCHES_PER_BUCKET


@dataclass
class Bound:
    params: tuple[Any, ...]

    @property
    def routing_key(self) -> bytes:
        return self.params[0].bytes + self.params[1].to_bytes(4, "big")


@dataclass
class Prepared:
    def bind(self, params: tuple[Any, ...]) -> Bound:
        return Bound(tuple(params))


@dataclass
class FakeCassandra:
    """Records every request; a row whose activity id is in `failing` makes its request fail."""

    replicas: int = 3
    failing: set[uuid.UUID] = field(default_factory=set)
    prepare_fails: bool = False
    requests: list[Any] = field(default_factory=list)
    stored: dict[tuple[uuid.UUID, int, int], tuple[Any, ...]] = field(default_factory=dict)

    def prepare(self, cql: str) -> Prepared:
        if self.prepare_fails:
            raise StorageUnavailable("cassandra", "NoHostAvailable")
        assert cql.startswith("INSERT INTO {keyspace}.samples")
        return Prepared()

    def primary_replica(self, statement: Bound) -> str:
        return f"node{statement.params[0].int % self.replicas}"

    def replica_of(self, params: tuple[Any, ...]) -> str:
        return f"node{params[0].int % self.replicas}"

    def unlogged_batch(self, statements: list[Bound]) -> tuple[str, list[Bound]]:
        return ("batch", list(statements))

    def execute_future(self, statement: Any, params: Any = None, timeout: float | None = None) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if isinstance(statement, Prepared):
            statement = statement.bind(params)
        self.requests.append(statement)
        rows = statement[1] if isinstance(statement, tuple) else [statement]
        failed = any(r.params[0] in self.failing for r in rows)

        def done() -> None:
            if failed:
                fut.set_exception(StorageUnavailable("cassandra", "WriteTimeout"))
                return
            for r in rows:
                self.stored[(r.params[0], r.params[1], r.params[2])] = r.params
            fut.set_result(None)

        loop.call_soon(done)
        return fut


def track(n: int = 5) -> Track:
    t = np.arange(n, dtype=np.float64)
    return Track.from_arrays(t, lat=45 + t * 1e-5, lng=7 + t * 1e-5, hr=np.full(n, 140.0))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_rows_of_one_tick_go_as_one_unlogged_batch_per_replica() -> None:
    cas = FakeCassandra(replicas=3)
    writer = SampleWriter(cas, mode="replica_batches")
    ids = [uuid.UUID(int=i) for i in range(12)]

    async def go() -> list[int]:
        return list(await asyncio.gather(*(writer.write_batch(a, 3, track()) for a in ids)))

    assert run(go()) == [0] * 12
    assert len(cas.requests) == 3 and all(r[0] == "batch" for r in cas.requests)
    for _, rows in cas.requests:
        assert len({cas.replica_of(r.params) for r in rows}) == 1  # never a batch across coordinators
    assert sorted(k[0] for k in cas.stored) == sorted(ids)
    assert writer.stats()["rows_per_request"] == 4.0 and writer.stats()["flushes"] == 1


def test_a_row_is_stored_as_chunk_seq_with_its_point_count_and_packed_channels() -> None:
    cas = FakeCassandra()
    writer = SampleWriter(cas)
    aid = uuid.uuid4()
    seq = LIVE_BATCHES_PER_BUCKET + 7
    bucket = run(writer.write_batch(aid, seq, track(5)))
    assert bucket == 1
    params = cas.stored[(aid, 1, seq)]
    assert params[3] == 5
    values = dict(zip(CHANNELS, params[4:], strict=True))
    assert np.array_equal(np.frombuffer(values["hr"], dtype="<f8"), np.full(5, 140.0))
    assert values["power"] is None  # a channel the batch does not have is NULL, as SampleStore stores it
    assert cas.requests == [cas.requests[0]] and not isinstance(cas.requests[0], tuple)  # one row: no batch


def test_batches_are_split_by_row_count_and_by_bytes() -> None:
    cas = FakeCassandra(replicas=1)
    writer = SampleWriter(cas, max_batch_rows=4)

    async def go(w: SampleWriter, n: int) -> None:
        await asyncio.gather(*(w.write_batch(uuid.uuid4(), 1, track()) for _ in range(n)))

    run(go(writer, 10))
    assert [len(r[1]) if isinstance(r, tuple) else 1 for r in cas.requests] == [4, 4, 2]

    cas2 = FakeCassandra(replicas=1)
    row_bytes = _ROW_OVERHEAD + 4 * 5 * 8  # t, lat, lng, hr of 5 points
    writer2 = SampleWriter(cas2, max_batch_rows=100, max_batch_bytes=3 * row_bytes)
    run(go(writer2, 7))
    assert [len(r[1]) if isinstance(r, tuple) else 1 for r in cas2.requests] == [3, 3, 1]
    assert len(cas2.stored) == 7


def test_a_failed_batch_fails_exactly_its_rows_and_nothing_else() -> None:
    cas = FakeCassandra(replicas=2)
    ids = [uuid.UUID(int=i) for i in range(8)]
    cas.failing = {ids[1]}  # replica node1: ids 1, 3, 5, 7
    writer = SampleWriter(cas)

    async def go() -> list[Any]:
        return list(await asyncio.gather(*(writer.write_batch(a, 1, track()) for a in ids), return_exceptions=True))

    results = run(go())
    for a, r in zip(ids, results, strict=True):
        if a.int % 2:
            assert isinstance(r, StorageUnavailable)
        else:
            assert r == 0
    assert {k[0] for k in cas.stored} == {a for a in ids if a.int % 2 == 0}


def test_concurrent_mode_sends_one_request_per_row_from_one_flush() -> None:
    cas = FakeCassandra()
    writer = SampleWriter(cas, mode="concurrent")

    async def go() -> None:
        await asyncio.gather(*(writer.write_batch(uuid.uuid4(), 2, track()) for _ in range(9)))

    run(go())
    assert len(cas.requests) == 9 and not any(isinstance(r, tuple) for r in cas.requests)
    assert writer.stats() == {"mode": "concurrent", "rows": 9, "requests": 9, "flushes": 1, "rows_per_request": 1.0}


def test_single_mode_is_one_request_per_call() -> None:
    cas = FakeCassandra()
    writer = SampleWriter(cas, mode="single")

    async def go() -> None:
        await asyncio.gather(*(writer.write_batch(uuid.uuid4(), 2, track()) for _ in range(3)))

    run(go())
    assert len(cas.stored) == 3 and writer.stats()["flushes"] == 0 and writer.stats()["requests"] == 3


def test_rows_of_later_ticks_are_flushed_separately() -> None:
    cas = FakeCassandra(replicas=1)
    writer = SampleWriter(cas)

    async def go() -> None:
        first = [asyncio.ensure_future(writer.write_batch(uuid.uuid4(), 1, track())) for _ in range(3)]
        await asyncio.gather(*first)
        await asyncio.gather(*(writer.write_batch(uuid.uuid4(), 1, track()) for _ in range(2)))

    run(go())
    assert [len(r[1]) for r in cas.requests] == [3, 2]
    assert writer.stats()["flushes"] == 2


def test_when_cassandra_cannot_prepare_every_waiting_row_is_refused() -> None:
    cas = FakeCassandra(prepare_fails=True)
    writer = SampleWriter(cas)

    async def go() -> list[Any]:
        return list(
            await asyncio.gather(
                *(writer.write_batch(uuid.uuid4(), 1, track()) for _ in range(4)), return_exceptions=True
            )
        )

    assert all(isinstance(r, StorageUnavailable) for r in run(go()))
    assert cas.stored == {}


def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    cas = FakeCassandra(replicas=1)
    writer = SampleWriter(cas)

    async def go() -> list[Any]:
        tasks = [asyncio.ensure_future(writer.write_batch(uuid.uuid4(), 1, track())) for _ in range(4)]
        await asyncio.sleep(0)  # every task has queued its row
        tasks[0].cancel()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    results = run(go())
    assert isinstance(results[0], asyncio.CancelledError) and results[1:] == [0, 0, 0]
    assert len(cas.stored) == 3


def test_unknown_mode_or_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        SampleWriter(FakeCassandra(), mode="logged")
    with pytest.raises(ValueError):
        SampleWriter(FakeCassandra(), max_batch_rows=0)
