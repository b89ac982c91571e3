"""The stats shard's logic (StatsHost) with fakes: state changes only with the commit (issue 9 #14), poison events
fail alone, deletes and erasure, reads raise domain errors."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domain.errors import Invalid, Unavailable
from tests.unit.services.progress_world import TODAY, UTC, World, run


def _days_ago(n: int, hour: int = 9) -> dt.datetime:
    d = TODAY - dt.timedelta(days=n)
    return dt.datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def _goal(w: World, user_id: uuid.UUID, km: float) -> None:
    run(
        w.svc.create_goal(
            user_id,
            {"goal_type": "weekly_distance", "target_value": km * 1000, "start_date": TODAY - dt.timedelta(days=30)},
        )
    )


def test_a_checkpoint_that_fails_to_commit_changes_nothing_and_the_redelivered_event_announces_once() -> None:
    """#14: UserStats used to remember the event and change memory before the commit; the redelivery then
    returned nothing, so its personal_record / goal_achieved / streak events never existed."""
    w = World()
    user = w.user()
    _goal(w, user, km=6)
    w.save_activity(user, _days_ago(1), 3)
    w.drain()
    assert w.pending() == []
    second = w.save_activity(user, _days_ago(0, hour=0), 10)  # the longest run, meets the week's goal, day two
    w.db.fail_next_commit = ConnectionError("postgres went away at commit")
    w.drain()
    assert w.pending() != [] and w.dead() == []  # the delivery failed and will be retried
    assert [e for e in w.db.outbox if e.aggregate_id == second and e.event_type != "activity_created"] == []
    w.clock.now += 5  # past the backoff
    w.drain()
    assert w.pending() == []
    assert w.stats(user)["lifetime_workouts"] == 2
    longest = [
        e for e in w.events("personal_record", user) if e.aggregate_id == second and e.payload["category"] == "longest"
    ]
    assert len(longest) == 1 and longest[0].payload["value"] == pytest.approx(10_000)
    assert len([e for e in w.events("goal_achieved", user) if e.aggregate_id == second]) == 1
    assert [e.payload["length"] for e in w.events("streak", user) if e.aggregate_id == second] == [2]
    # and a later redelivery of the same event (an ack lost after the commit) changes and announces nothing
    seq = next(e.seq for e in w.events("activity_created", user) if e.aggregate_id == second)
    w.db.tables["outbox_deliveries"][(seq, "stats")] = {"attempts": 0, "next_attempt_at": 0.0, "last_error": None}
    before = len(w.db.outbox)
    w.drain()
    assert len(w.db.outbox) == before and w.stats(user)["lifetime_workouts"] == 2


def test_a_poison_event_fails_alone_and_the_rest_of_the_users_batch_is_applied() -> None:
    w = World()
    user = w.user()
    good = w.save_activity(user, _days_ago(3), 5)
    poison = w.save_activity(user, _days_ago(2), 5)
    w.db.tables["facts"][poison] = w.db.tables["facts"][poison].__class__(
        "not-this-activity", "running", _days_ago(2)
    )  # its row yields a fact of another activity: apply raises
    later = w.save_activity(user, _days_ago(1), 5)
    w.drain()
    poison_seq = next(e.seq for e in w.events("activity_created", user) if e.aggregate_id == poison)
    assert w.pending() == [poison_seq]
    s = w.stats(user)
    assert s["lifetime_workouts"] == 2
    assert s["personal_records"]  # the good ones are in: records exist
    assert {good, later} <= {uuid.UUID(i) for i in _activity_ids(w, user)}
    assert "fact of that activity" in w.db.tables["outbox_deliveries"][(poison_seq, "stats")]["last_error"]


def test_an_erased_user_is_forgotten_and_events_for_them_change_nothing() -> None:
    w = World()
    user = w.user()
    w.save_activity(user, _days_ago(1), 5)
    w.drain()
    assert w.stats(user)["lifetime_workouts"] == 1
    del w.db.tables["users"][user]  # erased (the checkpoint row goes with it: ON DELETE CASCADE)
    w.db.tables["user_stats"].pop(user)
    w.save_activity(user, _days_ago(0), 5)
    w.drain()
    assert w.pending() == [] and all(user not in h.users for h in w.hosts)
    assert user not in w.db.tables["user_stats"]


def test_user_deleted_forgets_the_user_and_leaves_no_cache_version_behind() -> None:
    """Erasure (issue 9 #15): on user_deleted the shard drops the user and deletes their cache version; an
    invalidation (a version bump) would write a key under the erased user's prefix after the erasure purged it."""
    w = World()
    user = w.user()
    w.save_activity(user, _days_ago(1), 5)
    w.drain()
    w.stats(user)  # cached
    assert user in w.cache.versions

    async def erase() -> None:
        async with w.db.uow() as uow:
            del uow.tables["users"][user]
            uow.emit("user_deleted", user, user)
            await uow.commit()

    run(erase())
    w.drain()
    assert w.pending() == [] and all(user not in h.users for h in w.hosts)
    assert user not in w.cache.versions and not any(k[0] == user for k in w.cache.values)


def test_deletes_and_edits_read_the_current_row() -> None:
    w = World()
    user = w.user()
    a = w.save_activity(user, _days_ago(2), 5)
    w.save_activity(user, _days_ago(2), 7, event="activity_updated", activity_id=a, revision=2, sport="cycling")
    w.drain()
    s = w.stats(user)
    assert s["lifetime_workouts"] == 1 and s["totals"]["cycling"]["lifetime"]["distance_m"] == pytest.approx(7000)
    w.delete_activity(user, a)
    w.drain()
    assert w.stats(user)["lifetime_workouts"] == 0


def test_reads_raise_domain_errors_not_value_errors() -> None:
    w = World()
    user = w.user()
    host = w.hosts[0]
    with pytest.raises(Invalid):
        run(host.read(user, "vibes"))
    with pytest.raises(Invalid):
        run(
            host.read(
                user,
                "progress",
                {"metric": "distance", "period": "weekly", "start": dt.date(1, 1, 1), "end": dt.date(9999, 12, 31)},
            )
        )


def test_postgres_down_fails_the_batch_and_memory_is_reloaded_from_the_checkpoint() -> None:
    w = World()
    user = w.user()
    w.save_activity(user, _days_ago(1), 5)
    w.drain()
    w.save_activity(user, _days_ago(0), 5)
    w.db.fail_next_commit = Unavailable("postgres", "down")
    w.drain()
    assert len(w.pending()) == 1 and all(user not in h.users for h in w.hosts)
    w.clock.now += 5
    w.drain()
    assert w.pending() == [] and w.stats(user)["lifetime_workouts"] == 2


def _activity_ids(w: World, user: uuid.UUID) -> set[str]:
    host = w.hosts[w.shards.owner_index(user)]
    return {f.activity_id for f in host.users[user].facts()}


def test_a_read_racing_an_erasure_keeps_nothing_of_the_erased_user() -> None:
    """A stats read that arrives after the user is gone (an erasure in flight) answers NotFound and leaves no
    empty entry in the shard's memory."""
    from domain.errors import NotFound

    w = World()
    user = w.user()
    del w.db.tables["users"][user]
    with pytest.raises(NotFound):
        w.stats(user)
    assert all(user not in h.users for h in w.hosts)
