"""WorkoutHost (a WorkoutShard's logic) with fakes: rebuild after a restart, erasure, idle finish, housekeeping."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from actors.workout_shard import WorkoutHost
from domain.errors import NotFound, Unavailable
from domain.track import Track
from loadtest.synthetic import oval_run
from services.compute import inline
from services.fakes import FakeDatabase, FakeLiveFeed, FakePurges, FakeSamples
from services.live import LiveLimits

T = TypeVar("T")
START = dt.datetime(2026, 11, 5, 6, 0, tzinfo=dt.UTC)
USER = uuid.uuid4()
BATCHES = [Track.from_points(oval_run(laps=2)[i : i + 20]) for i in range(0, 201, 20)]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Shards:
    """One storage, and a host that can be 'restarted' (a new process with empty memory)."""

    def __init__(self, idle_finish_s: float = 7200.0) -> None:
        self.db = FakeDatabase()
        self.samples = FakeSamples()
        self.feed = FakeLiveFeed()
        self.idle_finish_s = idle_finish_s
        self.host = self.new_host()

    def new_host(self) -> WorkoutHost:
        return WorkoutHost(
            self.db.uow,
            self.samples,
            self.feed,
            FakePurges(self.db, self.samples),
            LiveLimits(),
            inline,
            idle_finish_s=self.idle_finish_s,
        )

    async def start(self, user_id: uuid.UUID = USER) -> uuid.UUID:
        activity_id = uuid.uuid4()
        async with self.db.uow() as uow:
            assert await uow.live.create(activity_id, user_id, "running", START, None)
            await uow.commit()
        return activity_id


@pytest.mark.parametrize(
    "script",
    [
        [1, 2, 3, 4, 5],
        [1, 2, 3, 4, "pause", 5, 6],
        [1, 2, "pause", 3, 4, 5, "resume", 6, 7, 8],
    ],
    ids=["never-paused", "paused", "resumed"],
)
def test_a_restarted_shard_rebuilds_the_same_live_metrics(script: list[Any]) -> None:
    async def scenario() -> None:
        s = Shards()
        activity_id = await s.start()
        for step in script:
            if isinstance(step, int):
                await s.host.ingest(activity_id, USER, step, BATCHES[step - 1])
            else:
                await s.host.set_paused(activity_id, USER, step == "pause")
        before = await s.host.metrics(activity_id, USER)
        s.host = s.new_host()  # the shard was killed; a new one rebuilds from Postgres + Cassandra
        after = await s.host.metrics(activity_id, USER)
        assert after.keys() == before.keys() and after["distance"] > 0
        for key, value in before.items():
            if isinstance(value, float):
                assert after[key] == pytest.approx(value), key
            else:
                assert after[key] == value, key

    run(scenario())


def test_concurrent_first_calls_rebuild_a_session_once() -> None:
    async def scenario() -> None:
        s = Shards()
        activity_id = await s.start()
        await s.host.ingest(activity_id, USER, 1, BATCHES[0])
        s.host = s.new_host()
        reads = 0
        real = s.samples.read_batches

        async def counting(aid: uuid.UUID) -> dict[int, Track]:
            nonlocal reads
            reads += 1
            await asyncio.sleep(0)
            return await real(aid)

        s.samples.read_batches = counting  # type: ignore[method-assign]
        views = await asyncio.gather(*(s.host.metrics(activity_id, USER) for _ in range(5)))
        assert reads == 1 and {v["points_received"] for v in views} == {20}

    run(scenario())


def test_end_user_closes_the_users_sessions_refuses_later_calls_and_tells_the_sockets() -> None:
    async def scenario() -> None:
        s = Shards()
        mine, also_mine = await s.start(), await s.start()
        other_user = uuid.uuid4()
        theirs = await s.start(other_user)
        for activity_id, user in ((mine, USER), (theirs, other_user)):
            await s.host.ingest(activity_id, user, 1, BATCHES[0])
        closed = await s.host.end_user(USER)
        assert closed == [mine]  # `also_mine` was not in memory: nothing to close, and it cannot be loaded now
        for activity_id in (mine, also_mine):
            with pytest.raises(NotFound):  # the rows still exist until the erasure commits
                await s.host.ingest(activity_id, USER, 2, BATCHES[1])
        assert s.feed.messages[mine][-1] == {"type": "discarded", "activity_id": str(mine)}
        assert (await s.host.ingest(theirs, other_user, 2, BATCHES[1]))["acked_seq"] == 2
        # what the erasure queues for purging: every partition a live workout wrote to is recorded
        assert s.db.tables["activities"][mine]["sample_buckets"] == [0]
        assert s.samples.points(mine) == 20 and (await s.host.end_user(USER)) == []

    run(scenario())


def test_end_user_waits_for_an_in_flight_batch() -> None:
    async def scenario() -> None:
        s = Shards()
        activity_id = await s.start()
        await s.host.ingest(activity_id, USER, 1, BATCHES[0])
        gate = asyncio.Event()
        real = s.samples.write_batch

        async def slow(aid: uuid.UUID, seq: int, track: Track) -> int:
            await gate.wait()
            return await real(aid, seq, track)

        s.samples.write_batch = slow  # type: ignore[method-assign]
        writing = asyncio.create_task(s.host.ingest(activity_id, USER, 2, BATCHES[1]))
        await asyncio.sleep(0)
        ending = asyncio.create_task(s.host.end_user(USER))
        await asyncio.sleep(0)
        assert not ending.done()  # erasure waits for the batch under the session lock...
        gate.set()
        assert (await writing)["acked_seq"] == 2
        assert await ending == [activity_id]  # ...so no sample lands after it returns

    run(scenario())


def test_housekeeping_finishes_the_idle_sessions_it_holds_and_records_activity() -> None:
    async def scenario() -> None:
        s = Shards(idle_finish_s=0.0)
        activity_id = await s.start()
        await s.host.ingest(activity_id, USER, 1, BATCHES[0])
        seen_before = s.db.tables["live_sessions"][activity_id]["last_seen_at"]
        await s.host.housekeeping()
        row = s.db.tables["activities"][activity_id]
        assert row["status"] == "saved" and row["points_count"] == 20
        assert s.host.sessions == {} and seen_before is not None
        assert [e.event_type for e in s.db.outbox] == ["activity_created"]

    run(scenario())


def test_housekeeping_keeps_the_touched_sessions_when_postgres_is_down() -> None:
    async def scenario() -> None:
        s = Shards()
        activity_id = await s.start()
        await s.host.ingest(activity_id, USER, 1, BATCHES[0])
        s.db.fail_next_commit = Unavailable("postgres", "down")
        with pytest.raises(Unavailable):
            await s.host.housekeeping()
        assert s.host.stats()["sessions"] == 1
        await s.host.housekeeping()  # retried next round

    run(scenario())


def test_a_finish_of_a_session_no_shard_holds_rebuilds_and_finishes_it() -> None:
    async def scenario() -> None:
        s = Shards()
        activity_id = await s.start()
        await s.host.ingest(activity_id, USER, 1, BATCHES[0])
        assert await s.host.evict(activity_id)
        assert await s.host.finish(activity_id, USER) == {"activity_id": str(activity_id)}
        assert s.db.tables["activities"][activity_id]["status"] == "saved"
        with pytest.raises(NotFound):
            await s.host.finish(activity_id, USER)

    run(scenario())


def test_a_rebuild_racing_end_user_never_takes_another_batch() -> None:
    async def scenario() -> None:
        s = Shards()
        activity_id = await s.start()
        await s.host.ingest(activity_id, USER, 1, BATCHES[0])
        s.host = s.new_host()  # not in memory: the next call rebuilds it
        gate = asyncio.Event()
        real = s.samples.read_batches

        async def slow(aid: uuid.UUID) -> dict[int, Track]:
            await gate.wait()
            return await real(aid)

        s.samples.read_batches = slow  # type: ignore[method-assign]
        ingest = asyncio.create_task(s.host.ingest(activity_id, USER, 2, BATCHES[1]))
        await asyncio.sleep(0)
        assert await s.host.end_user(USER) == []  # nothing in memory yet: the rebuild is reading storage
        gate.set()
        with pytest.raises(NotFound):
            await ingest
        assert s.samples.points(activity_id) == 20 and s.host.stats()["sessions"] == 0

    run(scenario())
