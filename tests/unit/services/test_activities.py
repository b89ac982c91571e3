"""ActivityService with in-memory fakes: write order, idempotency, limits, rollbacks, deletes, edits."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np
import orjson
import pytest

from domain.errors import Conflict, Invalid, NotFound, PreconditionFailed, TooLarge, Unavailable
from domain.track import Track
from loadtest.synthetic import oval_run
from services.activities import ActivityService, Limits, NewActivity
from services.compute import inline
from services.fakes import FakeDatabase, FakePurges, FakeSamples, FakeWorkouts
from services.fakes.progress import FakeStatsCache

T = TypeVar("T")
START = dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC)
USER = uuid.uuid4()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class World:
    def __init__(self, limits: Limits = Limits()) -> None:
        self.db = FakeDatabase()
        self.samples = FakeSamples()
        self.workouts = FakeWorkouts()
        self.cache = FakeStatsCache()
        self.svc = ActivityService(
            self.db.uow,
            self.samples,
            FakePurges(self.db, self.samples),
            self.workouts,
            limits,
            offload=inline,
            cache=self.cache,
        )

    def rows(self) -> dict[uuid.UUID, dict[str, Any]]:
        return self.db.tables["activities"]

    def events(self) -> list[str]:
        return [e.event_type for e in self.db.outbox]


def run_track(laps: int = 2) -> Track:
    return Track.from_points(oval_run(laps=laps))


def new(track: Track | None = None, fingerprint: str = "f1", client_id: str | None = "c1", **kw: Any) -> NewActivity:
    return NewActivity(
        sport="running",
        start_time=START,
        fingerprint=fingerprint,
        track=run_track() if track is None else track,
        client_id=client_id,
        **kw,
    )


def test_upload_writes_samples_then_summary_and_one_event_in_one_commit() -> None:
    w = World()
    activity_id, created = run(w.svc.upload(USER, new()))
    assert created
    row = w.rows()[activity_id]
    assert row["distance"] == pytest.approx(800, rel=0.01) and row["sample_buckets"] == [0]
    assert w.samples.points(activity_id) == len(run_track())
    assert w.samples.pending == {}  # cleared once the summary committed
    assert w.events() == ["activity_created"] and w.db.outbox[0].aggregate_id == activity_id


def test_a_retry_returns_the_same_id_without_a_second_row_or_event() -> None:
    w = World()
    first, _ = run(w.svc.upload(USER, new()))
    again, created = run(w.svc.upload(USER, new()))
    assert again == first and not created
    assert len(w.rows()) == 1 and w.events() == ["activity_created"]


def test_the_same_client_id_with_another_body_is_a_conflict() -> None:
    w = World()
    run(w.svc.upload(USER, new()))
    with pytest.raises(Conflict):
        run(w.svc.upload(USER, new(fingerprint="other")))
    assert len(w.rows()) == 1


def test_points_before_the_start_or_past_the_span_are_invalid_and_nothing_is_stored() -> None:
    w = World(Limits(max_span_s=86400))
    before = Track.from_arrays([-5.0, 0.0, 1.0], hr=[100, 100, 100])
    with pytest.raises(Invalid) as err:
        run(w.svc.upload(USER, new(before)))
    assert err.value.details[0]["field"] == "data_points.0.time"
    far = Track.from_arrays([0.0, 1.0, 1e8], hr=[100, 100, 100])
    with pytest.raises(Invalid) as err:
        run(w.svc.upload(USER, new(far)))
    assert err.value.details[0]["field"] == "data_points.2.time"
    assert w.rows() == {} and w.samples.rows == {} and w.db.outbox == []


def test_more_points_than_the_limit_is_too_large() -> None:
    w = World(Limits(max_points=10))
    with pytest.raises(TooLarge):
        run(w.svc.upload(USER, new(Track.from_arrays(np.arange(11.0)))))
    assert w.rows() == {} and w.samples.writes == 0


def test_a_failed_commit_rolls_back_the_summary_and_its_event_and_leaves_the_pending_marker() -> None:
    w = World()
    w.db.fail_next_commit = Unavailable("postgres", "connection lost")
    with pytest.raises(Unavailable):
        run(w.svc.upload(USER, new()))
    assert w.rows() == {} and w.db.outbox == []
    (orphan,) = w.samples.pending  # the reconciler purges these samples unless a retry commits them
    again, created = run(w.svc.upload(USER, new()))
    assert created and again == orphan and w.samples.pending == {}
    assert w.events() == ["activity_created"]


def test_cassandra_down_is_unavailable_and_nothing_reaches_postgres() -> None:
    w = World()
    w.samples.down = True
    with pytest.raises(Unavailable):
        run(w.svc.upload(USER, new()))
    assert w.rows() == {} and w.db.outbox == []


def test_a_manual_entry_keeps_the_given_numbers() -> None:
    w = World()
    activity_id, _ = run(w.svc.upload(USER, new(Track.empty(), duration=1800.0, distance=5000.0)))
    row = w.rows()[activity_id]
    assert (row["duration"], row["distance"], row["sample_buckets"]) == (1800.0, 5000.0, [])


def test_someone_elses_activity_is_not_found_for_every_use_case() -> None:
    w = World()
    activity_id, _ = run(w.svc.upload(USER, new()))
    stranger = uuid.uuid4()
    for call in (
        w.svc.get(stranger, activity_id),
        w.svc.streams(stranger, activity_id, ["time"], "low"),
        w.svc.update(stranger, activity_id, {"name": "mine"}, None),
        w.svc.delete(stranger, activity_id),
    ):
        with pytest.raises(NotFound):
            run(call)
    assert w.rows()[activity_id]["name"] != "mine"


def test_delete_removes_the_summary_emits_an_event_and_purges_the_samples() -> None:
    w = World()
    activity_id, _ = run(w.svc.upload(USER, new()))
    run(w.svc.delete(USER, activity_id))
    assert w.rows() == {} and w.events() == ["activity_created", "activity_deleted"]
    assert w.samples.points(activity_id) == 0 and w.db.tables["sample_purges"] == {}


def test_deleting_a_live_workout_asks_its_shard_to_discard_it() -> None:
    w = World()
    activity_id = uuid.uuid4()
    w.rows()[activity_id] = {"activity_id": activity_id, "user_id": USER, "status": "live"}
    w.workouts.sessions[activity_id] = USER
    run(w.svc.delete(USER, activity_id))
    assert w.workouts.calls == [("discard", activity_id)] and w.db.outbox == []


def test_an_edit_with_a_stale_version_changes_nothing() -> None:
    w = World()
    activity_id, _ = run(w.svc.upload(USER, new()))
    run(w.svc.update(USER, activity_id, {"name": "Track session"}, 1))
    with pytest.raises(PreconditionFailed):
        run(w.svc.update(USER, activity_id, {"name": "stale"}, 1))
    row = w.rows()[activity_id]
    assert row["name"] == "Track session" and row["version"] == 2
    assert w.events() == ["activity_created", "activity_updated"]


def test_a_type_change_remeasures_the_stored_samples() -> None:
    w = World()
    activity_id, _ = run(w.svc.upload(USER, new()))
    assert w.rows()[activity_id]["best_efforts"]  # running: 400 m efforts
    row = run(w.svc.update(USER, activity_id, {"type": "cycling"}, None))
    assert row["type"] == "cycling" and row["best_efforts"] == []  # a 0.8 km ride reaches no cycling effort
    assert row["distance"] == pytest.approx(800, rel=0.01)


def _manual_entries(w: World, days: int) -> None:
    """One 10-minute manual run a day from START on."""
    for day in range(days):
        entry = NewActivity(
            sport="running", start_time=START + dt.timedelta(days=day), fingerprint=str(day), duration=600.0
        )
        run(w.svc.upload(USER, entry))


def test_list_pages_newest_first_and_says_where_the_next_page_starts() -> None:
    w = World()
    _manual_entries(w, days=5)
    first = orjson.loads(run(w.svc.page(USER, limit=2, offset=0)).body)
    assert [r["start_time"][:10] for r in first["items"]] == ["2026-11-05", "2026-11-04"]
    assert first["next_offset"] == 2
    last = orjson.loads(run(w.svc.page(USER, limit=2, offset=4)).body)
    assert len(last["items"]) == 1 and last["next_offset"] is None
    with pytest.raises(Invalid):
        run(w.svc.page(USER, limit=2, offset=0, before=START, after=START))


def test_an_activity_document_is_cached_and_an_edit_or_delete_makes_it_stale() -> None:
    w = World()
    activity_id, _ = run(w.svc.upload(USER, new()))
    first = run(w.svc.document(USER, activity_id))
    assert first.etag == '"1"' and orjson.loads(first.body)["activity_id"] == str(activity_id)
    assert "sample_buckets" not in orjson.loads(first.body) and "request_hash" not in orjson.loads(first.body)
    w.rows()[activity_id]["name"] = "changed behind the cache's back"
    assert run(w.svc.document(USER, activity_id)).body == first.body  # served from the cache
    run(w.svc.update(USER, activity_id, {"name": "Intervals"}, None))
    edited = run(w.svc.document(USER, activity_id))
    assert orjson.loads(edited.body)["name"] == "Intervals" and edited.etag == '"2"'
    run(w.svc.delete(USER, activity_id))
    with pytest.raises(NotFound):
        run(w.svc.document(USER, activity_id))


def test_a_live_workouts_document_is_never_cached() -> None:
    w = World()
    activity_id, _ = run(w.svc.upload(USER, new()))
    w.rows()[activity_id]["status"] = "live"
    run(w.svc.document(USER, activity_id))
    assert w.cache.calls["put"] == 0 and w.cache.values == {}


def test_activity_documents_are_served_with_the_cache_down() -> None:
    w = World()
    activity_id, _ = run(w.svc.upload(USER, new()))
    w.cache.down = True
    assert orjson.loads(run(w.svc.document(USER, activity_id)).body)["activity_id"] == str(activity_id)
    run(w.svc.update(USER, activity_id, {"name": "still editable"}, None))  # a failed invalidation is logged


def test_an_upload_is_processed_through_the_offload_helper_not_on_the_event_loop() -> None:
    ran: list[str] = []

    async def recording(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        ran.append(fn.__name__)
        return fn(*args, **kwargs)

    db, samples = FakeDatabase(), FakeSamples()
    svc = ActivityService(db.uow, samples, FakePurges(db, samples), FakeWorkouts(), offload=recording)
    activity_id, created = run(svc.upload(USER, new()))
    assert created and ran == ["_process"]  # the whole CPU part of an upload is one offloaded call
    run(svc.update(USER, activity_id, {"type": "cycling"}, None))
    assert ran == ["_process", "_process"]  # so is the re-measure of a type change


def test_a_list_page_is_ready_bytes_whose_tag_follows_its_content() -> None:
    w = World()
    _manual_entries(w, days=3)
    page = run(w.svc.page(USER, limit=2, offset=0))
    body = orjson.loads(page.body)
    assert [i["start_time"] for i in body["items"]] == ["2026-11-03T07:30:00Z", "2026-11-02T07:30:00Z"]
    assert body["limit"] == 2 and body["offset"] == 0 and body["next_offset"] == 2
    assert run(w.svc.page(USER, limit=2, offset=0)).etag == page.etag  # same content, same tag
    before = run(w.svc.page(USER, limit=3, offset=0))
    run(w.svc.update(USER, next(iter(w.rows())), {"name": "renamed"}, None))
    after = run(w.svc.page(USER, limit=3, offset=0))
    assert after.etag != before.etag and b"renamed" in after.body  # an edit on the page changes its tag
