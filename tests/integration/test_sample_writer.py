"""SampleWriter and the driver options against the real Cassandra: coalesced rows are stored exactly as
SampleStore.write_batch stores them, batches stay under the node's batch limits, token-aware routing is in effect."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest

from config.settings import Settings
from domain.track import Track
from storage.cassandra import Cassandra
from storage.sample_writer import SampleWriter
from storage.samples import INSERT_ROW, SampleStore


def _track(seq: int, n: int = 5) -> Track:
    t = (seq - 1) * 5.0 + np.arange(n, dtype=np.float64)
    return Track.from_arrays(
        t,
        lat=45 + t * 1e-5,
        lng=7 + t * 1e-5,
        alt=200 + t,
        hr=140 + t % 7,
        cadence=np.full(n, 85.0),
        power=np.full(n, 210.0),
        speed=np.full(n, 3.1),
    )


@pytest.mark.parametrize("mode", ["replica_batches", "concurrent"])
def test_coalesced_live_rows_read_back_like_single_writes(settings: Settings, mode: str) -> None:
    async def go() -> tuple[dict[uuid.UUID, dict[int, Track]], dict[str, object]]:
        cas = Cassandra(settings)
        store = SampleStore(cas, settings.sample_bucket_seconds)
        writer = SampleWriter(cas, mode=mode, max_batch_rows=16)
        ids = [uuid.uuid4() for _ in range(40)]
        try:
            # 40 workouts x 3 batches, every batch of a round in the same tick
            for seq in (1, 2, 3):
                await asyncio.gather(*(writer.write_batch(a, seq, _track(seq)) for a in ids))
            stored = {a: await store.read_batches(a) for a in ids}
            return stored, writer.stats()
        finally:
            await asyncio.gather(*(store.purge(a, [0]) for a in ids))
            cas.close()

    stored, stats = asyncio.run(go())
    for batches in stored.values():
        assert sorted(batches) == [1, 2, 3]
        for seq, tr in batches.items():
            expected = _track(seq)
            for c in ("t", "lat", "lng", "alt", "hr", "cadence", "power", "speed"):
                assert np.array_equal(getattr(tr, c), getattr(expected, c))
    assert stats["rows"] == 120
    if mode == "replica_batches":
        assert stats["requests"] <= 3 * 3  # 40 rows per tick, batches of <= 16 rows, one node
    else:
        assert stats["requests"] == 120


def test_large_live_rows_are_split_below_the_batch_size_limit(settings: Settings) -> None:
    """300-point live rows (~19 KB each): byte-bounded batches, none refused by batch_size_fail_threshold."""

    async def go() -> tuple[int, dict[str, object]]:
        cas = Cassandra(settings)
        store = SampleStore(cas, settings.sample_bucket_seconds)
        writer = SampleWriter(cas)
        ids = [uuid.uuid4() for _ in range(12)]
        try:
            await asyncio.gather(*(writer.write_batch(a, 1, _track(1, 300)) for a in ids))
            got = 0
            for a in ids:
                got += len((await store.read_batches(a))[1])
            return got, writer.stats()
        finally:
            await asyncio.gather(*(store.purge(a, [0]) for a in ids))
            cas.close()

    points, stats = asyncio.run(go())
    assert points == 12 * 300
    assert stats["requests"] >= 12 * 300 * 8 * 8 // (24 * 1024)


def test_token_aware_routing_is_in_effect_for_sample_inserts(settings: Settings) -> None:
    """The bound INSERT carries its partition key as routing key, the driver has the token map, and the default
    profile's query plan starts with that partition's replica (what SampleWriter groups by)."""

    async def go() -> tuple[bool, bool, bool, str, int]:
        cas = Cassandra(settings)
        try:
            await cas.ping()
            stmt = cas.prepare(INSERT_ROW)
            bound = stmt.bind((uuid.uuid4(), 0, 1, 0, None, None, None, None, None, None, None, None))
            session = cas.session()
            policy = session.cluster.profile_manager.default.load_balancing_policy
            plan = list(policy.make_query_plan(cas.keyspace, bound))
            first = cas.primary_replica(bound)
            return (
                bound.routing_key is not None,
                session.cluster.metadata.token_map is not None,
                bool(plan) and plan[0] == first,
                type(policy).__name__,
                session.cluster.protocol_version,
            )
        finally:
            cas.close()

    has_key, has_token_map, first_is_replica, policy, protocol = asyncio.run(go())
    assert has_key and has_token_map and first_is_replica
    assert policy == "TokenAwarePolicy" and protocol == settings.cassandra_protocol_version == 4


def test_driver_connections_disable_nagle(settings: Settings) -> None:
    """Every connection of the app's session has TCP_NODELAY (with Nagle on, a request written in two sends waits
    for the node's delayed ACK: ~40 ms per 600-point chunk insert)."""
    import socket

    async def go() -> list[int]:
        cas = Cassandra(settings)
        try:
            await cas.ping()
            pools = list(cas.session()._pools.values())
            conns = [c for pool in pools for c in pool.get_connections()]
            conns.append(cas.session().cluster.control_connection._connection)
            return [c._socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for c in conns]
        finally:
            cas.close()

    flags = asyncio.run(go())
    assert flags and all(flags)
