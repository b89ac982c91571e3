"""The socket hub without Redis or sockets: fan-out, revocations, caps, expiry, re-checks, slow readers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterable
from typing import Any, TypeVar

import pytest

from config.settings import Settings
from serve_app.live_hub import (
    CLOSE_NORMAL,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHORIZED,
    Close,
    LiveHub,
    Outbox,
    Refused,
    Socket,
)
from storage.live_feed import REVOCATIONS_CHANNEL, live_channel

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class FakeSubscriber:
    """storage.live_feed.RedisSubscriber's interface: the channels followed, and messages pushed by the test."""

    def __init__(self) -> None:
        self.channels: set[str] = set()
        self.reconnects = 0
        self.readers = 0
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def subscribe(self, channels: Iterable[str]) -> None:
        self.channels.update(channels)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        self.channels.difference_update(channels)

    async def messages(self) -> AsyncIterator[tuple[str, Any]]:
        self.readers += 1
        while True:
            yield await self.queue.get()

    async def close(self) -> None:
        pass


def hub(recheck: Any = None, **caps: Any) -> LiveHub:
    settings = Settings(
        jwt_secret="x" * 40,
        **{
            "live_ws_max_per_activity": 5,
            "live_ws_max_per_share": 3,
            "live_ws_max_per_client": 4,
            "live_ws_send_queue": 4,
            **caps,
        },
    )
    return LiveHub(settings, FakeSubscriber(), recheck)  # type: ignore[arg-type]


def socket(
    h: LiveHub,
    activity_id: uuid.UUID,
    owner_id: uuid.UUID,
    *,
    client: str = "10.0.0.1",
    share_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    **kw: Any,
) -> Socket:
    return Socket(
        activity_id,
        owner_id,
        client,
        h.outbox(),
        follower=share_id is not None,
        share_id=share_id,
        session_id=session_id,
        **kw,
    )


async def pending(s: Socket) -> list[Any]:
    """What is queued for a socket, up to and including a close."""
    out: list[Any] = []
    while True:
        try:
            item = await asyncio.wait_for(s.outbox.next(), 0.01)
        except TimeoutError:
            return out
        out.append(item if isinstance(item, Close) else json.loads(item))
        if isinstance(item, Close):
            return out


def test_one_subscription_per_workout_fans_out_to_every_local_socket() -> None:
    async def scenario() -> None:
        h = hub()
        workout, other = uuid.uuid4(), uuid.uuid4()
        owner = uuid.uuid4()
        a, b = socket(h, workout, owner), socket(h, workout, owner, client="10.0.0.2", share_id=uuid.uuid4())
        c = socket(h, other, uuid.uuid4())
        for s in (a, b, c):
            await h.join(s)
        assert h.subscriber.channels == {live_channel(workout), live_channel(other), REVOCATIONS_CHANNEL}
        h.dispatch(live_channel(workout), {"type": "metrics", "points_received": 5})
        assert await pending(a) == await pending(b) == [{"type": "metrics", "points_received": 5}]
        assert await pending(c) == []
        await h.leave(a)
        assert live_channel(workout) in h.subscriber.channels  # b still follows it
        await h.leave(b)
        assert live_channel(workout) not in h.subscriber.channels
        await h.close()

    run(scenario())


def test_the_end_of_a_workout_is_delivered_then_the_socket_closes() -> None:
    async def scenario() -> None:
        h = hub()
        workout = uuid.uuid4()
        s = socket(h, workout, uuid.uuid4())
        await h.join(s)
        h.dispatch(live_channel(workout), {"type": "finished", "activity_id": str(workout)})
        assert await pending(s) == [
            {"type": "finished", "activity_id": str(workout)},
            Close(CLOSE_NORMAL, "workout finished"),
        ]
        await h.close()

    run(scenario())


def test_caps_per_workout_share_link_and_client_address() -> None:
    async def scenario() -> None:
        h = hub()
        workout, owner, share = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        for i in range(3):
            await h.join(socket(h, workout, owner, client=f"10.0.1.{i}", share_id=share))
        with pytest.raises(Refused) as refused:
            await h.join(socket(h, workout, owner, client="10.0.2.1", share_id=share))
        assert refused.value.code == CLOSE_TOO_MANY and "share link" in refused.value.reason
        for i in range(2):
            await h.join(socket(h, workout, owner, client=f"10.0.3.{i}"))
        with pytest.raises(Refused, match="this workout"):
            await h.join(socket(h, workout, owner, client="10.0.4.1"))
        for _ in range(4):
            await h.join(socket(h, uuid.uuid4(), owner, client="10.9.9.9"))
        with pytest.raises(Refused, match="this address"):
            await h.join(socket(h, uuid.uuid4(), owner, client="10.9.9.9"))
        assert h.stats()["sockets"] == 9
        await h.close()

    run(scenario())


def test_revocations_close_exactly_the_matching_sockets() -> None:
    async def scenario() -> None:
        h = hub(live_ws_max_per_activity=50, live_ws_max_per_client=50, live_ws_max_per_share=50)
        user, session, other_session = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        workout, share = uuid.uuid4(), uuid.uuid4()
        mine = socket(h, workout, user, session_id=session)
        mine_elsewhere = socket(h, workout, user, session_id=other_session)
        follower = socket(h, workout, user, share_id=share)
        stranger = socket(h, uuid.uuid4(), uuid.uuid4(), session_id=uuid.uuid4())
        for s in (mine, mine_elsewhere, follower, stranger):
            await h.join(s)
        assert h.revoke({"user_id": str(user), "session_id": str(session), "reason": "logout"}) == 1
        assert mine.outbox.closing == Close(CLOSE_UNAUTHORIZED, "session revoked (logout)")
        assert mine_elsewhere.outbox.closing is None and follower.outbox.closing is None
        assert h.revoke({"share_id": str(share), "activity_id": str(workout), "reason": "share_revoked"}) == 1
        assert follower.outbox.closing is not None and follower.outbox.closing.code == CLOSE_NOT_FOUND
        h.dispatch(REVOCATIONS_CHANNEL, {"user_id": str(user), "session_id": None, "reason": "account_deleted"})
        assert mine_elsewhere.outbox.closing is not None and mine_elsewhere.outbox.closing.code == CLOSE_UNAUTHORIZED
        assert stranger.outbox.closing is None
        assert h.revoke({"nonsense": 1}) == 0 and h.revoke("not a dict") == 0
        await h.close()

    run(scenario())


def test_account_deletion_closes_the_followers_of_the_users_workouts() -> None:
    async def scenario() -> None:
        h = hub()
        user = uuid.uuid4()
        follower = socket(h, uuid.uuid4(), user, share_id=uuid.uuid4())
        await h.join(follower)
        h.revoke({"user_id": str(user), "session_id": None, "reason": "logout"})
        assert follower.outbox.closing is None  # a logout is not the followers' business
        h.revoke({"user_id": str(user), "session_id": None, "reason": "account_deleted"})
        assert follower.outbox.closing == Close(CLOSE_NOT_FOUND, "workout gone")
        await h.close()

    run(scenario())


def test_expired_tokens_close_and_the_periodic_recheck_closes_dead_credentials_once_per_token() -> None:
    checked: list[str | None] = []

    async def recheck(s: Socket) -> bool:
        checked.append(s.token)
        return s.token != "revoked"

    async def scenario() -> None:
        h = hub(recheck, live_ws_recheck_s=3600)
        workout, user = uuid.uuid4(), uuid.uuid4()
        expired = socket(h, workout, user, token="t1", expires_at=time.time() - 1)
        fine = socket(h, workout, user, token="t2", expires_at=time.time() + 600)
        revoked = [socket(h, workout, user, client=f"10.0.0.{i}", token="revoked") for i in (2, 3)]
        for s in (expired, fine, *revoked):
            await h.join(s)
        await h.sweep()
        assert expired.outbox.closing == Close(CLOSE_UNAUTHORIZED, "access token expired")
        assert checked == []  # the re-check is not due yet
        await h.sweep(force_recheck=True)
        assert sorted(checked, key=str) == ["revoked", "t2"]  # one check per distinct credential
        assert all(s.outbox.closing is not None for s in revoked) and fine.outbox.closing is None
        await h.close()

    run(scenario())


def test_a_slow_socket_loses_old_updates_never_replies_or_its_close() -> None:
    async def scenario() -> None:
        box = Outbox(limit=3)
        box.push(json.dumps({"type": "ack", "seq": 1}), droppable=False)
        for i in range(10):
            box.push(json.dumps({"type": "metrics", "i": i}))
        box.close(CLOSE_NORMAL, "bye")
        box.push(json.dumps({"type": "metrics", "i": 99}))  # after the close: ignored
        out = []
        while not isinstance(item := await box.next(), Close):
            out.append(json.loads(item))
        assert out == [{"type": "ack", "seq": 1}, {"type": "metrics", "i": 8}, {"type": "metrics", "i": 9}]
        assert item == Close(CLOSE_NORMAL, "bye") and box.dropped == 8

    run(scenario())


def test_the_hub_reads_its_subscription_and_survives_a_bad_message() -> None:
    async def scenario() -> None:
        h = hub()
        workout = uuid.uuid4()
        s = socket(h, workout, uuid.uuid4())
        await h.join(s)  # starts the reader
        h.subscriber.queue.put_nowait(("live:not-a-uuid", {"type": "metrics"}))
        h.subscriber.queue.put_nowait((live_channel(workout), ["not", "a", "dict"]))
        h.subscriber.queue.put_nowait((live_channel(workout), {"type": "metrics", "n": 1}))
        await asyncio.sleep(0.01)
        assert await pending(s) == [{"type": "metrics", "n": 1}]
        await h.close()

    run(scenario())


def test_a_burst_of_joins_starts_one_reader() -> None:
    async def scenario() -> None:
        h = hub(live_ws_max_per_activity=100, live_ws_max_per_client=100)
        workout = uuid.uuid4()
        await asyncio.gather(*(h.join(socket(h, workout, uuid.uuid4())) for _ in range(50)))
        await asyncio.sleep(0.01)
        assert h.subscriber.readers == 1 and h.stats()["sockets"] == 50
        await h.close()

    run(scenario())
