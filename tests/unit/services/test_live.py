"""LiveService over a WorkoutHost (the shard's logic) with in-memory fakes: start, batches and acks, limits,
pauses, shares, finish == upload, rollbacks, discard."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest

from actors.workout_shard import WorkoutHost
from domain.errors import Conflict, Invalid, NotFound, TooLarge, Unavailable
from domain.track import Track
from loadtest.synthetic import oval_run
from services.activities import ActivityService, NewActivity
from services.compute import inline
from services.fakes import FakeDatabase, FakeLiveFeed, FakePurges, FakeSamples
from services.live import LiveLimits, LiveService, share_token_hash

T = TypeVar("T")
START = dt.datetime(2026, 11, 5, 6, 0, tzinfo=dt.UTC)
USER = uuid.uuid4()
COMPARED = (
    "distance",
    "duration",
    "moving_time",
    "heart_rate_avg",
    "heart_rate_max",
    "average_pace",
    "max_speed",
    "points_count",
    "route_polyline",
    "summary_polyline",
    "calories",
    "splits",
    "best_efforts",
)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class World:
    def __init__(self, limits: LiveLimits = LiveLimits(), offload: Callable[..., Any] = inline) -> None:
        self.db = FakeDatabase()
        self.samples = FakeSamples()
        self.feed = FakeLiveFeed()
        self.purges = FakePurges(self.db, self.samples)
        self.limits = limits
        self.host = WorkoutHost(self.db.uow, self.samples, self.feed, self.purges, limits, offload)
        self.svc = LiveService(self.db.uow, self.host, self.feed, limits, offload)

    def restart_shard(self) -> None:
        """A new shard process: same storage, empty memory."""
        self.host = WorkoutHost(self.db.uow, self.samples, self.feed, self.purges, self.limits, inline)
        self.svc.workouts = self.host

    def row(self, activity_id: uuid.UUID) -> dict[str, Any]:
        return self.db.tables["activities"][activity_id]

    def events(self) -> list[str]:
        return [e.event_type for e in self.db.outbox]


def parts(laps: int = 1, size: int = 20) -> list[Track]:
    points = oval_run(laps=laps)
    return [Track.from_points(points[i : i + size]) for i in range(0, len(points), size)]


async def started(w: World, **kw: Any) -> uuid.UUID:
    activity_id, created = await w.svc.start(USER, "running", START, **kw)
    assert created
    return activity_id


def test_start_creates_a_live_row_that_records_its_first_sample_partition() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w, client_id="watch-1")
        row = w.row(activity_id)
        assert (row["status"], row["sample_buckets"], row["request_hash"]) == ("live", [0], "live")
        again, created = await w.svc.start(USER, "running", START, client_id="watch-1")
        assert again == activity_id and not created

    run(scenario())


def test_a_client_id_used_by_an_upload_is_a_conflict() -> None:
    async def scenario() -> None:
        w = World()
        uploads = ActivityService(w.db.uow, w.samples, w.purges, w.host, offload=inline)
        await uploads.upload(USER, NewActivity("running", START, "f", parts()[0], client_id="c1"))
        with pytest.raises(Conflict):
            await w.svc.start(USER, "running", START, client_id="c1")

    run(scenario())


def test_batches_are_acked_once_stored_and_duplicates_are_not_written_twice() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        batch = parts()
        for seq in (1, 2, 3):
            ack = await w.svc.samples(USER, activity_id, seq, batch[seq - 1], False)
            assert (ack["acked_seq"], ack["duplicate"]) == (seq, False)
        writes = w.samples.writes
        again = await w.svc.samples(USER, activity_id, 2, batch[1], False)
        assert again == {"acked_seq": 3, "missing": [], "highest_seq": 3, "duplicate": True}
        assert w.samples.writes == writes and w.samples.points(activity_id) == 60
        assert w.feed.messages[activity_id][-1]["points_received"] == 60  # published for sockets

    run(scenario())


def test_gaps_are_reported_and_a_batch_too_far_ahead_is_a_conflict() -> None:
    async def scenario() -> None:
        w = World(LiveLimits(max_ahead=8))
        activity_id = await started(w)
        batch = parts(laps=3, size=10)
        await w.svc.samples(USER, activity_id, 1, batch[0], False)
        gap = await w.svc.samples(USER, activity_id, 4, batch[3], False)
        assert (gap["acked_seq"], gap["missing"], gap["highest_seq"]) == (1, [2, 3], 4)
        with pytest.raises(Conflict) as err:
            await w.svc.samples(USER, activity_id, 10, batch[9], False)
        assert err.value.details["acked_seq"] == 1
        assert 10 not in w.samples.rows[activity_id][0]

    run(scenario())


def test_points_outside_the_span_are_invalid_and_nothing_is_stored() -> None:
    async def scenario() -> None:
        w = World(LiveLimits(max_span_s=86400))
        activity_id = await started(w)
        for t in ([-1.0, 0.0], [0.0, 1e8], [0.0, float("nan")]):
            with pytest.raises(Invalid):
                await w.svc.samples(USER, activity_id, 1, Track.from_arrays(t), False)
        late = Track.from_arrays([START.timestamp() + 2 * 86400])  # absolute: checked by the shard
        with pytest.raises(Invalid):
            await w.svc.samples(USER, activity_id, 1, late, True)
        assert w.samples.writes == 0

    run(scenario())


def test_absolute_times_are_stored_as_offsets_from_the_start() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        await w.svc.samples(USER, activity_id, 1, Track.from_arrays(START.timestamp() + np.array([5.0, 3.0])), True)
        stored = w.samples.rows[activity_id][0][1]
        assert stored.t.tolist() == [3.0, 5.0]  # and sorted

    run(scenario())


def test_the_batch_that_passes_the_point_cap_is_too_large_and_not_stored() -> None:
    async def scenario() -> None:
        w = World(LiveLimits(max_points=50))
        activity_id = await started(w)
        batch = parts()
        await w.svc.samples(USER, activity_id, 1, batch[0], False)
        await w.svc.samples(USER, activity_id, 2, batch[1], False)
        with pytest.raises(TooLarge):
            await w.svc.samples(USER, activity_id, 3, batch[2], False)
        assert w.samples.points(activity_id) == 40
        w.restart_shard()  # the count survives a rebuild
        with pytest.raises(TooLarge):
            await w.svc.samples(USER, activity_id, 3, batch[2], False)

    run(scenario())


def test_a_new_sample_partition_is_recorded_before_it_is_written() -> None:
    async def scenario() -> None:
        w = World(LiveLimits(max_ahead=10_000))
        activity_id = await started(w)
        await w.svc.samples(USER, activity_id, 1, parts()[0], False)
        w.samples.down = True  # Cassandra fails the write of batch 721 (partition 1)...
        with pytest.raises(Unavailable):
            await w.svc.samples(USER, activity_id, 721, Track.from_arrays([4000.0]), False)
        assert w.row(activity_id)["sample_buckets"] == [0, 1]  # ...which erasure can purge anyway

    run(scenario())


def test_someone_elses_workout_is_not_found_everywhere() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        await w.svc.samples(USER, activity_id, 1, parts()[0], False)
        stranger = uuid.uuid4()
        for call in (
            w.svc.samples(stranger, activity_id, 2, parts()[1], False),
            w.svc.set_paused(stranger, activity_id, True),
            w.svc.metrics(stranger, activity_id),
            w.svc.share(stranger, activity_id),
            w.svc.finish(stranger, activity_id),
            w.svc.revoke_share(stranger, activity_id, uuid.uuid4()),
        ):
            with pytest.raises(NotFound):
                await call
        assert w.row(activity_id)["status"] == "live"

    run(scenario())


def test_metrics_come_from_the_feed_and_from_the_shard_when_the_feed_is_down() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        await w.svc.samples(USER, activity_id, 1, parts()[0], False)
        cached = await w.svc.metrics(USER, activity_id)
        w.feed.down = True
        w.restart_shard()
        rebuilt = await w.svc.metrics(USER, activity_id)
        assert cached == rebuilt and rebuilt["points_received"] == 20

    run(scenario())


def test_a_pause_that_fails_to_commit_changes_nothing() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        await w.svc.samples(USER, activity_id, 1, parts()[0], False)
        w.db.fail_next_commit = Unavailable("postgres", "connection lost")
        with pytest.raises(Unavailable):
            await w.svc.set_paused(USER, activity_id, True)
        assert (await w.svc.metrics(USER, activity_id))["paused"] is False
        assert w.db.tables["live_sessions"][activity_id]["pauses"] == []
        assert (await w.svc.set_paused(USER, activity_id, True))["paused"] is True
        w.restart_shard()
        assert (await w.host.metrics(activity_id, USER))["paused"] is True

    run(scenario())


def test_finish_gives_the_same_activity_as_an_upload_of_the_same_points() -> None:
    async def scenario() -> None:
        w = World()
        points = oval_run(laps=4)
        activity_id = await started(w)
        batch = [Track.from_points(points[i : i + 25]) for i in range(0, len(points), 25)]
        order = list(range(1, len(batch) + 1))
        order[2], order[3] = order[3], order[2]
        for seq in [*order, 2]:
            await w.svc.samples(USER, activity_id, seq, batch[seq - 1], False)
        live = await w.svc.finish(USER, activity_id)
        uploads = ActivityService(w.db.uow, w.samples, w.purges, w.host, offload=inline)
        uploaded_id, _ = await uploads.upload(USER, NewActivity("running", START, "f", Track.from_points(points)))
        uploaded = await uploads.get(USER, uploaded_id)
        for key in COMPARED:
            assert live[key] == pytest.approx(uploaded[key]), key
        assert live["status"] == "saved" and live["sample_buckets"] == [0]
        assert w.events() == ["activity_created", "activity_created"]
        assert w.db.tables["live_sessions"] == {}
        assert (await w.svc.finish(USER, activity_id))["distance"] == live["distance"]  # finishing again: the same
        with pytest.raises(NotFound):
            await w.svc.samples(USER, activity_id, 99, batch[0], False)
        assert w.feed.messages[activity_id][-1]["type"] == "finished"

    run(scenario())


def test_a_finish_whose_commit_fails_leaves_the_workout_live_and_a_retry_finishes_it_once() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        await w.svc.samples(USER, activity_id, 1, parts()[0], False)
        w.db.fail_next_commit = Unavailable("postgres", "connection lost")
        with pytest.raises(Unavailable):
            await w.svc.finish(USER, activity_id)
        assert w.row(activity_id)["status"] == "live" and w.events() == []
        ack = await w.svc.samples(USER, activity_id, 2, parts()[1], False)  # the workout goes on
        assert ack["acked_seq"] == 2
        done = await w.svc.finish(USER, activity_id)
        assert done["points_count"] == 40 and w.events() == ["activity_created"]
        with pytest.raises(NotFound):  # the janitor asking again (a redelivery) finds nothing to finish
            await w.host.finish(activity_id, USER)
        assert w.events() == ["activity_created"]

    run(scenario())


def test_finish_processes_off_the_event_loop() -> None:
    calls: list[str] = []

    async def recording(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn.__name__)
        return fn(*args, **kwargs)

    async def scenario() -> None:
        w = World(offload=recording)
        activity_id = await started(w)
        await w.svc.samples(USER, activity_id, 1, parts()[0], False)
        await w.svc.finish(USER, activity_id)

    run(scenario())
    assert calls == ["finished_summary"]


def test_a_pause_excludes_its_stretch_from_the_finished_activity() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        batch = parts(laps=2, size=50)  # 201 points, 4 m/s
        await w.svc.samples(USER, activity_id, 1, batch[0], False)
        await w.svc.set_paused(USER, activity_id, True)  # at t=49
        await w.svc.samples(USER, activity_id, 2, batch[1], False)
        await w.svc.samples(USER, activity_id, 3, batch[2], False)
        await w.svc.set_paused(USER, activity_id, False)  # at t=149
        await w.svc.samples(USER, activity_id, 4, batch[3], False)
        await w.svc.samples(USER, activity_id, 5, batch[4], False)
        live = await w.svc.metrics(USER, activity_id)
        done = await w.svc.finish(USER, activity_id)
        # 100 s (400 m) paused: not measured, live or finished
        assert live["distance"] == pytest.approx(800 - 400, rel=0.02)
        assert done["distance"] == pytest.approx(800 - 400, rel=0.02)

    run(scenario())


def test_share_links_open_one_workout_until_revoked_or_finished() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        await w.svc.samples(USER, activity_id, 1, parts()[0], False)
        share_id, token = await w.svc.share(USER, activity_id)
        assert w.db.tables["live_shares"][share_id]["token_hash"] == share_token_hash(token)  # only the hash
        follower = await w.svc.follow(activity_id, token)
        assert (follower.owner_id, follower.share_id) == (USER, share_id)
        assert (await w.svc.follower_metrics(activity_id, token))["points_received"] == 20
        for bad in (
            w.svc.follow(uuid.uuid4(), token),
            w.svc.follow(activity_id, "slt_nonsense"),
            w.svc.follow(activity_id, "x" * 1000),
        ):
            with pytest.raises(NotFound):
                await bad
        await w.svc.revoke_share(USER, activity_id, share_id)
        assert w.feed.revocations == [
            {"share_id": str(share_id), "activity_id": str(activity_id), "reason": "share_revoked"}
        ]
        with pytest.raises(NotFound):
            await w.svc.follow(activity_id, token)
        _, second = await w.svc.share(USER, activity_id)
        await w.svc.follow(activity_id, second)
        await w.svc.finish(USER, activity_id)
        with pytest.raises(NotFound):
            await w.svc.follow(activity_id, second)

    run(scenario())


def test_discard_removes_the_row_the_links_and_every_sample() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        await w.svc.samples(USER, activity_id, 1, parts()[0], False)
        _, token = await w.svc.share(USER, activity_id)
        await w.host.discard(activity_id, USER)
        assert activity_id not in w.db.tables["activities"] and w.samples.points(activity_id) == 0
        assert w.db.tables["sample_purges"] == {} and w.events() == []
        with pytest.raises(NotFound):
            await w.svc.follow(activity_id, token)
        assert w.feed.messages[activity_id][-1]["type"] == "discarded"

    run(scenario())


def test_discard_with_cassandra_down_leaves_the_purge_queued_for_the_janitor() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        await w.svc.samples(USER, activity_id, 1, parts()[0], False)
        w.samples.down = True
        await w.host.discard(activity_id, USER)
        assert activity_id not in w.db.tables["activities"]
        assert w.db.tables["sample_purges"] == {activity_id: [0]}

    run(scenario())


def test_a_burst_of_followers_opening_one_link_costs_one_lookup_and_nothing_is_cached() -> None:
    async def scenario() -> None:
        w = World()
        activity_id = await started(w)
        _, token = await w.svc.share(USER, activity_id)
        opened = 0
        real = w.db.uow

        def counting() -> Any:
            nonlocal opened
            opened += 1
            return real()

        w.svc.uow = counting
        followers = await asyncio.gather(*(w.svc.follow(activity_id, token) for _ in range(50)))
        assert opened == 1 and len({f.share_id for f in followers}) == 1
        await w.svc.revoke_share(USER, activity_id, followers[0].share_id)
        with pytest.raises(NotFound):  # the next lookup asks again: a revoked link is never served from memory
            await w.svc.follow(activity_id, token)

    run(scenario())
