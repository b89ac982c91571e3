"""The dispatcher's logic (Dispatch) with fakes (issue 9 #16): per-consumer delivery state, redelivery, backoff,
dead letters and replay, no tail for events no consumer takes, pruning after the retention."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from domain.events import SUBSCRIPTIONS, RetryPolicy, consumers_of, outbox_payload
from tests.unit.services.progress_world import TODAY, UTC, World, run

NOON = dt.datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC) - dt.timedelta(days=1)


class Recorder:
    """A consumer that records what it gets and fails while `failing` (or for the seqs in `poison`)."""

    def __init__(self) -> None:
        self.got: list[int] = []
        self.failing = False
        self.poison: set[int] = set()

    async def __call__(self, rows: list[dict[str, Any]]) -> dict[int, str]:
        if self.failing:
            raise ConnectionError("consumer down")
        self.got += [r["seq"] for r in rows]
        return {r["seq"]: "poison" for r in rows if r["seq"] in self.poison}


def test_only_subscribed_consumers_get_delivery_rows_and_payloads_are_written_only_when_read() -> None:
    w = World()
    user = w.user()
    activity = w.save_activity(user, NOON, 12)
    w.drain()
    kinds = {e.event_type for e in w.db.outbox}
    assert {"activity_created", "personal_record"} <= kinds
    created = w.events("activity_created", user)[0]
    assert created.payload == {}  # the stats consumer reads the current row, not a payload
    record = w.events("personal_record", user)[0]
    assert record.payload["activity_id"] == str(activity) and "value" in record.payload  # the Notifier's
    assert consumers_of("personal_record") == [] and consumers_of("activity_created") == ["stats"]
    assert w.pending() == []  # delivered; and the stats actor's own events never had a delivery row: no tail
    assert all(seq == created.seq or c != "stats" for seq, c in w.db.tables["outbox_deliveries"])


def test_events_without_consumers_are_never_walked_past_and_are_pruned_after_the_retention() -> None:
    w = World()
    user = w.user()
    for i in range(3):
        w.save_activity(user, NOON - dt.timedelta(days=i), 5 + i)
    w.drain()
    assert w.pending() == [] and len(w.events("personal_record")) >= 3
    assert run(_due(w)) == []  # nothing left for anyone: the next poll reads nothing
    w.clock.now += 3600
    assert run(_prune(w, retention_s=7200)) == 0  # not old enough yet
    w.clock.now += 7200
    total = len(w.db.outbox)
    assert run(_prune(w, retention_s=7200)) == total and w.db.outbox == []


def test_a_pending_or_dead_event_is_not_pruned() -> None:
    rec = Recorder()
    w = World(consumers={"stats": rec}, policy=RetryPolicy(max_attempts=1))
    user = w.user()
    w.save_activity(user, NOON, 5)
    rec.failing = True
    w.drain()
    assert len(w.dead()) == 1
    w.clock.now += 10 * 86400
    run(_prune(w, retention_s=60))
    assert [e.event_type for e in w.db.outbox] == ["activity_created"]


def test_a_failed_delivery_backs_off_then_is_redelivered_and_counted_once() -> None:
    w = World()
    user = w.user()
    w.save_activity(user, NOON, 5)
    w.shards.down = True  # the shard is restarting
    w.drain()
    (seq,) = w.pending()
    delivery = w.db.tables["outbox_deliveries"][(seq, "stats")]
    assert delivery["attempts"] == 1 and "restart" in delivery["last_error"]
    w.shards.down = False
    w.drain()
    assert w.pending() == [seq]  # not due before its backoff
    w.clock.now += 1.5
    w.drain()
    assert w.pending() == [] and w.stats(user)["lifetime_workouts"] == 1


def test_a_delivery_whose_done_mark_is_lost_is_redelivered_without_double_counting() -> None:
    w = World()
    user = w.user()
    w.save_activity(user, NOON, 5)
    real_commit_failure = ConnectionError("lost before the delivery was marked done")

    class FailMarking(Recorder):
        async def __call__(self, rows: list[dict[str, Any]]) -> dict[int, str]:
            result = await stats(rows)
            w.db.fail_next_commit = real_commit_failure  # the commit that marks them delivered fails
            return result

    from actors.dispatcher import stats_consumer

    stats = stats_consumer(w.shards)  # type: ignore[arg-type]
    w.dispatch.consumers["stats"] = FailMarking()
    w.drain()
    assert len(w.pending()) == 1  # still pending: the consumer applied it, the mark was lost
    w.dispatch.consumers["stats"] = stats
    w.drain()
    assert w.pending() == [] and w.stats(user)["lifetime_workouts"] == 1
    records = [e for e in w.db.outbox if e.event_type == "personal_record" and e.payload["category"] == "longest"]
    assert len(records) == 1


def test_a_poison_event_becomes_a_dead_letter_after_the_attempts_cap_and_replays() -> None:
    rec = Recorder()
    w = World(consumers={"stats": rec}, policy=RetryPolicy(max_attempts=3, backoff_base_s=1, backoff_max_s=2))
    user = w.user()
    w.save_activity(user, NOON, 5)
    bad = w.events("activity_created")[0].seq
    w.save_activity(user, NOON, 6)
    rec.poison = {bad}
    for _ in range(6):
        w.drain()
        w.clock.now += 3
    assert w.dead() == [bad] and w.pending() == []
    assert rec.got.count(bad) == 3  # exactly the cap, then never again
    letters = run(_dead_letters(w))
    assert letters[0]["seq"] == bad and letters[0]["attempts"] == 3 and letters[0]["last_error"] == "poison"
    got = len(rec.got)
    w.clock.now += 3600
    w.drain()
    assert len(rec.got) == got  # a dead letter is not retried
    rec.poison = set()  # the operator fixed the cause
    assert run(_replay(w, bad)) == 1
    w.drain()
    assert w.dead() == [] and w.pending() == [] and rec.got[-1] == bad


def test_a_consumer_that_is_down_fails_its_whole_batch_and_others_are_unaffected() -> None:
    rec, other = Recorder(), Recorder()
    w = World(consumers={"stats": rec, "other": other})
    user = w.user()
    w.save_activity(user, NOON, 5)
    seq = w.events("activity_created")[0].seq
    w.db.tables["outbox_deliveries"][(seq, "other")] = {"attempts": 0, "next_attempt_at": 0.0, "last_error": None}
    rec.failing = True
    w.drain()
    assert w.pending("stats") == [seq] and w.pending("other") == [] and other.got == [seq]


def test_the_catalogue_covers_every_subscription_and_refuses_unknown_types() -> None:
    import pytest

    from domain.events import CATALOGUE

    assert all(t in CATALOGUE for types in SUBSCRIPTIONS.values() for t in types)
    with pytest.raises(ValueError, match="catalogue"):
        outbox_payload("made_up", {})
    w = World()

    async def emit_unknown() -> None:
        async with w.db.uow() as uow:
            uow.emit("made_up", uuid.uuid4(), uuid.uuid4())
            await uow.commit()

    with pytest.raises(ValueError):
        run(emit_unknown())
    assert w.db.outbox == []


async def _due(w: World) -> list[dict[str, Any]]:
    async with w.db.uow() as uow:
        return await uow.outbox.due("stats", 100)


async def _prune(w: World, retention_s: float) -> int:
    async with w.db.uow() as uow:
        n = await uow.outbox.prune(retention_s)
        await uow.commit()
        return n


async def _dead_letters(w: World) -> list[dict[str, Any]]:
    async with w.db.uow() as uow:
        return await uow.outbox.dead_letters()


async def _replay(w: World, seq: int) -> int:
    async with w.db.uow() as uow:
        n = await uow.outbox.replay(seq)
        await uow.commit()
        return n
