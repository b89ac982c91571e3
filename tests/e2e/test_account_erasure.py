"""DELETE /users/{id} erases the account in every store: checked directly in Postgres, Cassandra and Redis."""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import httpx
import psycopg
import redis

from config.settings import Settings
from storage.redis_store import build_sync_redis
from storage.cassandra import Cassandra
from tests.e2e.conftest import Account, new_account

BUCKETS = [0, 1]


def _pg(settings: Settings, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(settings.pg_dsn()) as conn:
        return conn.execute(sql, params).fetchall()


def _insert_activity(settings: Settings, user_id: str) -> uuid.UUID:
    activity_id = uuid.uuid4()
    _pg(settings, "INSERT INTO activities (activity_id, user_id, type, start_time, points_count, sample_buckets)"
                  " VALUES (%s, %s, 'run', %s, 4, %s) RETURNING activity_id",
        activity_id, user_id, dt.datetime(2024, 5, 1, 7, tzinfo=dt.timezone.utc), BUCKETS)
    return activity_id


def _cassandra(settings: Settings, op: str, activity_id: uuid.UUID) -> int:
    async def go() -> int:
        cas = Cassandra(settings)
        try:
            if op == "write":
                stmt = cas.prepare("INSERT INTO {keyspace}.samples (activity_id, bucket, chunk, n, t, hr)"
                                   " VALUES (?, ?, ?, ?, ?, ?)")
                for bucket in BUCKETS:
                    await cas.execute(stmt, (activity_id, bucket, 0, 2, b"\x00" * 16, b"\x01" * 16))
            stmt = cas.prepare("SELECT chunk FROM {keyspace}.samples WHERE activity_id = ? AND bucket = ?")
            total = 0
            for bucket in BUCKETS:
                total += len(list(await cas.execute(stmt, (activity_id, bucket))))
            return total
        finally:
            cas.close()

    return asyncio.run(go())


def _redis(settings: Settings) -> redis.Redis:
    return build_sync_redis(settings)


def _user_keys(settings: Settings, user_id: str) -> list[bytes]:
    return list(_redis(settings).scan_iter(match=f"u:{user_id}:*", count=1000))


def _rows_about(settings: Settings, user_id: str, activity_id: uuid.UUID) -> dict[str, int]:
    queries = {
        "users": ("SELECT count(*) FROM users WHERE user_id = %s", user_id),
        "activities": ("SELECT count(*) FROM activities WHERE user_id = %s", user_id),
        "devices": ("SELECT count(*) FROM devices WHERE user_id = %s", user_id),
        "auth_sessions": ("SELECT count(*) FROM auth_sessions WHERE user_id = %s", user_id),
        "refresh_tokens": ("SELECT count(*) FROM refresh_tokens WHERE user_id = %s", user_id),
        "sample_purges": ("SELECT count(*) FROM sample_purges WHERE activity_id = %s", activity_id),
    }
    return {name: _pg(settings, sql, param)[0][0] for name, (sql, param) in queries.items()}


def _populate(api: httpx.Client, settings: Settings, acct: Account) -> uuid.UUID:
    """Give an account data in every store: sessions, a device, an activity with samples, cache entries."""
    assert api.post("/users/me/devices", headers=acct.headers, json={"kind": "apple_watch"}).status_code == 201
    assert api.get("/users/me", headers=acct.headers).status_code == 200  # session cache + rate-limit bucket
    activity_id = _insert_activity(settings, acct.user_id)
    assert _cassandra(settings, "write", activity_id) == len(BUCKETS)
    _redis(settings).set(f"u:{acct.user_id}:stats:totals", b'{"run": 1}', ex=600)
    return activity_id


def test_delete_user_leaves_nothing_in_any_store(api: httpx.Client, settings: Settings) -> None:
    acct, bystander = new_account(api), new_account(api)
    activity_id = _populate(api, settings, acct)
    kept_activity = _populate(api, settings, bystander)
    before = _rows_about(settings, acct.user_id, activity_id)
    assert before == {"users": 1, "activities": 1, "devices": 1, "auth_sessions": 1, "refresh_tokens": 1,
                      "sample_purges": 0}
    assert len(_user_keys(settings, acct.user_id)) >= 3  # session state, API bucket, stats entry

    r = api.delete(f"/users/{acct.user_id}", headers=acct.headers)
    assert r.status_code == 204, r.text

    assert _rows_about(settings, acct.user_id, activity_id) == {k: 0 for k in before}
    assert _cassandra(settings, "read", activity_id) == 0
    assert _user_keys(settings, acct.user_id) == []
    # the bystander keeps everything
    assert _rows_about(settings, bystander.user_id, kept_activity)["activities"] == 1
    assert _cassandra(settings, "read", kept_activity) == len(BUCKETS)
    assert _redis(settings).get(f"u:{bystander.user_id}:stats:totals") == b'{"run": 1}'
    assert api.get("/users/me", headers=bystander.headers).status_code == 200


def test_tokens_of_a_deleted_user_leave_no_new_cache_entries(api: httpx.Client, settings: Settings) -> None:
    acct = new_account(api)
    assert api.delete("/users/me", headers=acct.headers).status_code == 204
    assert api.get("/users/me", headers=acct.headers).status_code == 401
    assert api.post("/auth/refresh", json={"refresh_token": acct.refresh_token}).status_code == 401
    assert _user_keys(settings, acct.user_id) == []


def test_deleting_twice_is_401_then(api: httpx.Client) -> None:
    acct = new_account(api)
    assert api.delete(f"/users/{acct.user_id}", headers=acct.headers).status_code == 204
    assert api.delete(f"/users/{acct.user_id}", headers=acct.headers).status_code == 401
