"""The outbox against the real Postgres (issue 9 #16): one statement writes the events and their pending
deliveries, only for subscribed consumers; the dispatcher's logic delivers, backs off, dead-letters after the cap,
replays; pruning keeps what is pending or dead. A consumer name of this test's own keeps other sessions' dispatchers
(which deliver the real consumers on the same database) out of its rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest

from actors.dispatcher import Dispatch
from config.settings import Settings
from domain.events import RetryPolicy
from services.ports import UnitOfWorkFactory
from storage.outbox import Event, insert_events
from storage.postgres import Postgres
from storage.uow import PostgresUnitOfWork


def _run(settings: Settings, body: Callable[[Postgres, UnitOfWorkFactory], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        pg = Postgres(settings)
        try:
            return await body(
                pg, cast(UnitOfWorkFactory, lambda read_only=False: PostgresUnitOfWork(pg, read_only=read_only))
            )
        finally:
            await pg.close()

    return asyncio.run(go())


async def _emit(pg: Postgres, subs: dict[str, frozenset[str]], events: list[Event]) -> None:
    async with PostgresUnitOfWork(pg) as uow:
        await insert_events(uow.conn, events, subscriptions=subs)
        await uow.commit()


async def _rows(pg: Postgres, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with pg.connection() as conn:
        cur = await conn.execute(sql, args)
        return await cur.fetchall()


@pytest.fixture()
def consumer() -> str:
    return f"it-{uuid.uuid4().hex[:12]}"


def test_events_and_their_deliveries_commit_together_and_only_for_subscribers(
    settings: Settings, consumer: str
) -> None:
    user = uuid.uuid4()
    subs = {consumer: frozenset({"activity_created"})}
    taken = Event("activity_created", user, uuid.uuid4(), {"distance": 5000})
    untaken = Event("streak", user, user, {"period": "daily", "length": 2})

    async def body(pg: Postgres, uow: UnitOfWorkFactory) -> None:
        async with PostgresUnitOfWork(pg) as u:  # rolled back: neither the events nor the deliveries exist
            await insert_events(u.conn, [taken, untaken], subscriptions=subs)
        assert await _rows(pg, "SELECT 1 FROM outbox WHERE user_id = %s", user) == []
        await _emit(pg, subs, [taken, untaken])
        rows = await _rows(
            pg,
            "SELECT o.event_type, o.payload, d.consumer, d.attempts FROM outbox o"
            " LEFT JOIN outbox_deliveries d USING (seq) WHERE o.user_id = %s ORDER BY o.seq",
            user,
        )
        assert rows == [
            {"event_type": "activity_created", "payload": {}, "consumer": consumer, "attempts": 0},  # nobody reads it
            {"event_type": "streak", "payload": {"period": "daily", "length": 2}, "consumer": None, "attempts": None},
        ]
        with pytest.raises(ValueError, match="catalogue"):
            await _emit(pg, subs, [Event("made_up", user, user)])
        await _cleanup(pg, user)

    _run(settings, body)


def test_deliver_back_off_dead_letter_replay_and_prune(settings: Settings, consumer: str) -> None:
    user = uuid.uuid4()
    subs = {consumer: frozenset({"activity_created"})}
    events = [Event("activity_created", user, uuid.uuid4()) for _ in range(3)]
    got: list[int] = []
    poison: set[uuid.UUID] = {events[1].event_id}

    async def deliver(rows: list[dict[str, Any]]) -> dict[int, str]:
        got.extend(r["seq"] for r in rows)
        return {r["seq"]: "poison" for r in rows if r["event_id"] in poison}

    async def body(pg: Postgres, uow: UnitOfWorkFactory) -> None:
        await _emit(pg, subs, events)
        dispatch = Dispatch(
            uow, {consumer: deliver}, RetryPolicy(max_attempts=3, backoff_base_s=0.05, backoff_max_s=0.1)
        )
        for _ in range(40):
            await dispatch.run_once()
            if dispatch.dead:
                break
            await asyncio.sleep(0.06)
        seqs = {
            r["event_id"]: r["seq"]
            for r in await _rows(pg, "SELECT event_id, seq FROM outbox WHERE user_id = %s", user)
        }
        bad = seqs[events[1].event_id]
        assert got.count(bad) == 3 and sorted(set(got)) == sorted(seqs.values())
        assert await _rows(pg, "SELECT seq FROM outbox_deliveries WHERE consumer = %s", consumer) == []
        async with uow() as u:
            letters = await u.outbox.dead_letters(consumer=consumer)
        assert [(x["seq"], x["attempts"], x["last_error"]) for x in letters] == [(bad, 3, "poison")]
        await dispatch.run_once()
        assert got.count(bad) == 3  # a dead letter is not retried by itself

        # the delivered ones are pruned after the retention; the dead one stays
        async with pg.connection() as conn:
            await conn.execute("UPDATE outbox SET created_at = now() - interval '40 days' WHERE user_id = %s", (user,))
        async with uow() as u:
            while await u.outbox.prune(39 * 86400.0, 1000) == 1000:
                pass
            await u.commit()
        assert [r["seq"] for r in await _rows(pg, "SELECT seq FROM outbox WHERE user_id = %s", user)] == [bad]

        poison.clear()  # the operator fixed the cause and replays it
        async with uow() as u:
            assert await u.outbox.replay(bad, consumer) == 1
            await u.commit()
        await dispatch.run_once()
        assert got.count(bad) == 4
        assert await _rows(pg, "SELECT seq FROM outbox_deliveries WHERE consumer = %s", consumer) == []
        assert await _rows(pg, "SELECT seq FROM outbox_dead_letters WHERE consumer = %s", consumer) == []
        await _cleanup(pg, user)

    _run(settings, body)


def test_a_failure_backs_off_before_the_next_attempt(settings: Settings, consumer: str) -> None:
    user = uuid.uuid4()
    calls: list[int] = []

    async def deliver(rows: list[dict[str, Any]]) -> dict[int, str]:
        calls.append(len(rows))
        raise ConnectionError("consumer down")

    async def body(pg: Postgres, uow: UnitOfWorkFactory) -> None:
        await _emit(pg, {consumer: frozenset({"activity_updated"})}, [Event("activity_updated", user, uuid.uuid4())])
        policy = RetryPolicy(max_attempts=5, backoff_base_s=3600, backoff_max_s=7200)
        dispatch = Dispatch(uow, {consumer: deliver}, policy)
        await dispatch.run_once()
        await dispatch.run_once()  # not due again for an hour
        assert calls == [1]
        (row,) = await _rows(
            pg,
            "SELECT attempts, last_error, next_attempt_at > now() + interval '30 minutes' AS later"
            " FROM outbox_deliveries WHERE consumer = %s",
            consumer,
        )
        assert row == {"attempts": 1, "last_error": "ConnectionError: consumer down", "later": True}
        await _cleanup(pg, user)

    _run(settings, body)


async def _cleanup(pg: Postgres, user: uuid.UUID) -> None:
    async with pg.connection() as conn:
        await conn.execute("DELETE FROM outbox WHERE user_id = %s", (user,))
        await conn.commit()
