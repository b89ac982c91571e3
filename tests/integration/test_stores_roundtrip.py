"""Data round-trips through each real service with the project's own adapters and migrations."""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from config.settings import Settings
from storage.cassandra import Cassandra
from storage.migrate import migrate_cassandra, migrate_postgres, migration_files
from storage.postgres import Postgres
from storage.redis_store import build_redis


def test_postgres_roundtrip_through_the_pool(settings: Settings) -> None:
    async def go() -> dict:
        pg = Postgres(settings)
        try:
            async with pg.connection() as conn:
                event_id = uuid.uuid4()
                await conn.execute(
                    "INSERT INTO outbox (event_id, event_type, payload) VALUES (%s, 'test_event', '{\"k\": 1}')",
                    (event_id,),
                )
                cur = await conn.execute("SELECT event_type, payload FROM outbox WHERE event_id = %s", (event_id,))
                row = await cur.fetchone()
                await conn.execute("DELETE FROM outbox WHERE event_id = %s", (event_id,))
                return row
        finally:
            await pg.close()

    assert asyncio.run(go()) == {"event_type": "test_event", "payload": {"k": 1}}


def test_cassandra_roundtrip_with_a_prepared_statement(settings: Settings) -> None:
    async def go() -> tuple:
        cas = Cassandra(settings)
        try:
            activity_id = uuid.uuid4()
            insert = cas.prepare(
                "INSERT INTO {keyspace}.samples (activity_id, bucket, chunk, n, t) VALUES (?, ?, ?, ?, ?)"
            )
            await cas.execute(insert, (activity_id, 0, 3, 2, b"\x00" * 16))
            select = cas.prepare("SELECT chunk, n, t FROM {keyspace}.samples WHERE activity_id = ? AND bucket = ?")
            rows = list(await cas.execute(select, (activity_id, 0)))
            await cas.execute(
                cas.prepare("DELETE FROM {keyspace}.samples WHERE activity_id = ? AND bucket = ?"), (activity_id, 0)
            )
            return tuple((r.chunk, r.n, r.t) for r in rows)
        finally:
            cas.close()

    assert asyncio.run(go()) == ((3, 2, b"\x00" * 16),)


def test_redis_roundtrip(settings: Settings) -> None:
    async def go() -> bytes | None:
        client = build_redis(settings)
        try:
            key = f"test:{uuid.uuid4()}"
            await client.set(key, b"value", ex=10)
            value = await client.get(key)
            await client.delete(key)
            return value
        finally:
            await client.aclose()

    assert asyncio.run(go()) == b"value"


def test_migrations_are_recorded_and_a_second_run_is_a_noop(owner_settings: Settings) -> None:
    assert migrate_postgres(owner_settings) == []
    assert migrate_cassandra(owner_settings) == []
    with psycopg.connect(owner_settings.pg_dsn(owner=True)) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == [v for v, _ in migration_files("postgres")]
