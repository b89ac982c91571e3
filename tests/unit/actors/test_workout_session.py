"""WorkoutSession: live metrics survive a rebuild from storage (issue 9 #19), pauses applied at their times."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from actors.workout_session import WorkoutSession
from domain.track import Track
from loadtest.synthetic import oval_run

START = dt.datetime(2026, 11, 5, 6, 0, tzinfo=dt.UTC)
POINTS = oval_run(laps=2)  # 201 points, 1 s apart, 4 m/s
COMPARED = (
    "distance",
    "moving_time",
    "elapsed_time",
    "points_received",
    "paused",
    "average_speed",
    "average_heart_rate",
    "current_split",
    "last_sample_time",
)


def batches(size: int = 20) -> dict[int, Track]:
    return {i // size + 1: Track.from_points(POINTS[i : i + size]) for i in range(0, len(POINTS), size)}


def live_session(actions: list[Any]) -> WorkoutSession:
    """Feed batches and pause/resume commands in order, as the shard does while the workout runs."""
    session = WorkoutSession(uuid.uuid4(), uuid.uuid4(), "running", START)
    parts = batches()
    for action in actions:
        if isinstance(action, int):
            session.accept(action, parts[action])
        else:
            event = session.pause_event(action == "pause")
            assert event is not None
            session.record_pause(event)
    return session


def rebuilt(session: WorkoutSession) -> WorkoutSession:
    """What a new shard builds from storage: the stored batches and the stored pause events."""
    parts = batches()
    stored = {seq: parts[seq] for seq in range(1, session.sequencer.highest + 1) if session.sequencer.seen(seq)}
    return WorkoutSession.rebuild(
        session.activity_id, session.user_id, session.sport, session.start_time, session.pauses, stored
    )


def same_view(a: WorkoutSession, b: WorkoutSession) -> None:
    va, vb = a.view(), b.view()
    for key in COMPARED:
        assert vb[key] == pytest.approx(va[key]), key
    assert (b.sequencer.acked, b.points) == (a.sequencer.acked, a.points)


def test_a_never_paused_session_rebuilds_to_the_same_metrics() -> None:
    live = live_session([1, 2, 3, 4, 5])
    assert live.view()["distance"] == pytest.approx(99 * 4, rel=0.02)
    same_view(live, rebuilt(live))


def test_a_session_rebuilt_while_paused_keeps_the_distance_run_before_the_pause() -> None:
    live = live_session([1, 2, 3, 4, "pause", 5, 6])  # 797 m became 0 m before the fix
    view = live.view()
    assert view["paused"] is True and view["distance"] == pytest.approx(79 * 4, rel=0.02)
    again = rebuilt(live)
    assert again.view()["distance"] > 0
    same_view(live, again)


def test_a_resumed_session_does_not_count_the_paused_stretch_after_a_rebuild() -> None:
    live = live_session([1, 2, "pause", 3, 4, "resume", 5, 6, 7])
    view = live.view()
    # paused from t=39 to t=79: those 40 s (160 m) are neither moving time nor distance
    assert view["paused"] is False and view["distance"] == pytest.approx((139 - 40) * 4, rel=0.02)
    assert view["moving_time"] == pytest.approx(139 - 40, abs=1)
    same_view(live, rebuilt(live))


def test_batches_behind_a_gap_get_the_pause_state_of_their_time() -> None:
    live = live_session([1, 3, 2, "pause", 5, 4, "resume", 6])
    same_view(live, rebuilt(live))
    assert live.view()["distance"] == pytest.approx((119 - 40) * 4, rel=0.02)  # paused from t=59 to t=99


def test_a_pause_that_changes_nothing_records_nothing() -> None:
    session = live_session([1])
    assert session.pause_event(False) is None
    session.record_pause(session.pause_event(True) or {})
    assert session.pause_event(True) is None and session.pauses == [{"type": "pause", "t": 19.0}]
