"""The Redis side of authentication against a real Redis: the scripts (storage/auth_state.py), and what one
authenticated request costs (issue 11: ONE round trip), counted by Redis itself.

Runs against a private `redis-server` this module starts on a free loopback port (stopped by its PID at the end):
MONITOR then sees the app's commands and nobody else's (the shared Redis serves every engineer's test sessions),
and the module may stop it to test the outage policy. The app runs in process (FastAPI over httpx's ASGI transport)
against the test Postgres database.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr

from config.settings import Settings
from domain.ratelimit import Bucket
from loadtest.bench_auth import CommandCounter, private_redis
from storage.auth_state import REVOCATIONS_CHANNEL, RedisAuthState, session_key
from storage.redis_store import build_redis

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    with private_redis() as port:
        yield port


def _state_settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={"redis_port": port, "redis_username": None, "redis_password": SecretStr(""), "redis_db": 0}
    )


async def _with_state(settings: Settings, fn: Any) -> Any:
    client = build_redis(settings)
    try:
        return await fn(RedisAuthState(client), client)
    finally:
        await client.aclose()


# ---------------------------------------------------------------------------------------------- the scripts


def test_buckets_take_refuse_refill_and_several_are_all_or_nothing(settings: Settings, redis_port: int) -> None:
    s = _state_settings(settings, redis_port)

    async def go(state: RedisAuthState, client: Any) -> None:
        key = f"rl:test:{uuid.uuid4()}"
        b = Bucket(key, 3, 10.0)
        results = [(await state.take([b]))[0] for _ in range(4)]
        assert [r.allowed for r in results] == [True, True, True, False]
        assert [r.remaining for r in results] == [2, 1, 0, 0]
        assert results[3].retry_after_s == 1 and 0 < results[3].reset_s <= 1
        assert 0 < await client.pttl(key) <= 1300
        await asyncio.sleep(0.25)  # 10 tokens/s: two more
        again = [(await state.take([b]))[0] for _ in range(3)]
        assert [r.allowed for r in again] == [True, True, False]
        big = (await state.take([Bucket(f"{key}:big", 5, 1.0, cost=6)]))[0]  # more than the capacity: never
        assert not big.allowed and big.remaining == 5
        full, empty = Bucket(f"{key}:full", 5, 0.001), Bucket(f"{key}:empty", 1, 0.001)
        assert [r.allowed for r in await state.take([full, empty])] == [True, True]
        refused = await state.take([full, empty])
        assert [r.allowed for r in refused] == [True, False]  # the empty one is named...
        assert float(await client.hget(full.key, "tokens")) == pytest.approx(4, abs=0.01)  # ...and none was taken

    asyncio.run(_with_state(s, go))


def test_the_gate_takes_a_token_only_for_an_active_session(settings: Settings, redis_port: int) -> None:
    s = _state_settings(settings, redis_port)
    user, session = uuid.uuid4(), uuid.uuid4()
    bucket = Bucket(f"u:{user}:rl:api", 5, 1.0)

    async def go(state: RedisAuthState, client: Any) -> None:
        assert await state.check(user, session, bucket) == (None, None)  # unknown: no token, no key left
        assert await client.exists(bucket.key) == 0
        state_, result = await state.check(user, session, bucket, mark_active_s=60)
        assert state_ == "active" and result is not None and result.remaining == 4
        assert 55 <= await client.ttl(session_key(user, session)) <= 60
        assert (await state.check(user, session, bucket))[1].remaining == 3  # type: ignore[union-attr]
        await state.mark_revoked(user, session, 960)
        assert await state.check(user, session, bucket) == ("revoked", None)
        assert float(await client.hget(bucket.key, "tokens")) == pytest.approx(3, abs=0.05)
        assert await state.state(user, session) == "revoked"

    asyncio.run(_with_state(s, go))


def test_revocations_are_marked_and_published_and_purge_takes_only_the_users_keys(
    settings: Settings, redis_port: int
) -> None:
    s = _state_settings(settings, redis_port)
    user, other, session = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    listener = redis.Redis(port=redis_port).pubsub()
    listener.subscribe(REVOCATIONS_CHANNEL)
    assert listener.get_message(timeout=2)["type"] == "subscribe"

    async def go(state: RedisAuthState, client: Any) -> int:
        await state.revoke(user, session, "logout", 960)
        await state.revoke(user, None, "account_deleted", 960)
        for key in (f"u:{user}:a", f"u:{user}:b:c", f"u:{other}:a", "rl:login:acct:x", "rl:login:acct:y"):
            await client.set(key, b"1")
        purged = await state.purge(user, ["rl:login:acct:x"])
        assert sorted(
            k.decode() for k in await client.keys("*") if str(user) in k.decode() or k.startswith(b"rl:login:acct:")
        ) == ["rl:login:acct:y"]
        assert await client.exists(f"u:{other}:a") == 1
        return int(purged)

    assert asyncio.run(_with_state(s, go)) == 4  # session state, a, b:c, the login bucket
    messages = [json.loads(m["data"]) for m in (listener.get_message(timeout=2) for _ in range(2)) if m]
    assert messages == [
        {"user_id": str(user), "session_id": str(session), "reason": "logout"},
        {"user_id": str(user), "session_id": None, "reason": "account_deleted"},
    ]
    listener.close()


# ---------------------------------------------------------------------------------------------- one request


@pytest.fixture(scope="module")
def app_client(
    settings: Settings, redis_port: int
) -> Iterator[tuple[httpx.AsyncClient, Any, asyncio.AbstractEventLoop]]:
    """The app in process against the test database and the private Redis, with a logged-in user's headers."""
    from serve_app.app import create_app
    from serve_app.resources import Resources, set_resources

    s = _state_settings(settings, redis_port).model_copy(
        update={"rate_api_capacity": 10_000, "session_local_ttl_s": 30.0}
    )
    loop = asyncio.new_event_loop()
    resources = Resources.build(s)
    set_resources(resources)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(), client=("203.0.113.50", 40000)), base_url="http://in-process"
    )
    email = f"roundtrips-{uuid.uuid4().hex[:10]}@example.com"
    r = loop.run_until_complete(client.post("/users", json={"email": email, "password": PASSWORD, "name": "RT"}))
    assert r.status_code == 202, r.text
    r = loop.run_until_complete(client.post("/auth/login", json={"email": email, "password": PASSWORD}))
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    try:
        yield client, headers, loop
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(resources.close())
        set_resources(None)
        loop.close()


def test_an_authenticated_request_makes_exactly_one_redis_round_trip(app_client: Any, redis_port: int) -> None:
    """Issue 11: the old auth dependency made GET (session state) + EVALSHA (rate limit) per request: 2 round
    trips. The session gate answers both in one script. Counted by Redis (MONITOR), not timed."""
    client, headers, loop = app_client
    for _ in range(3):  # warm: the scripts are loaded, the session is known to Redis
        assert loop.run_until_complete(client.get("/users/me", headers=headers)).status_code == 200
    with CommandCounter(redis_port) as counter:
        for _ in range(10):
            r = loop.run_until_complete(client.get("/users/me", headers=headers))
            assert r.status_code == 200 and r.headers["x-ratelimit-remaining"]
    assert counter.commands == ["EVALSHA"] * 10


def test_with_redis_down_the_api_fails_open_and_login_fails_closed(app_client: Any, redis_port: int) -> None:
    """Runs last in this module: it stops the private Redis."""
    client, headers, loop = app_client
    assert loop.run_until_complete(client.get("/users/me", headers=headers)).status_code == 200
    redis.Redis(port=redis_port).shutdown(nosave=True)
    time.sleep(0.2)
    me = loop.run_until_complete(client.get("/users/me", headers=headers))
    assert me.status_code == 200 and "x-ratelimit-remaining" not in me.headers  # fail open, not counted
    login = loop.run_until_complete(client.post("/auth/login", json={"email": "x@example.com", "password": "y"}))
    assert login.status_code == 503 and int(login.headers["retry-after"]) > 0
    assert login.json()["error"]["details"] == {"service": "redis"}
    reg = loop.run_until_complete(
        client.post("/users", json={"email": "new@example.com", "password": PASSWORD, "name": "N"})
    )
    assert reg.status_code == 503
