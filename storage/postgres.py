"""PostgreSQL adapter: an async connection pool built from settings, with failures mapped to StorageUnavailable."""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import AsyncIterator

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from config.settings import Settings
from storage.errors import StorageUnavailable

# A connection handed back to the pool less than this long ago is handed out again without a liveness round trip
# (psycopg_pool's check_connection costs one per checkout: measured ~5% of an activity read's CPU). An idle one is
# checked first, so a restarted database costs no request an error; a connection that breaks in between fails that
# one request with StorageUnavailable (503) and the pool replaces it.
RECENTLY_USED_S = 1.0
_returned_at: weakref.WeakKeyDictionary[psycopg.AsyncConnection, float] = weakref.WeakKeyDictionary()


async def _check_if_idle(conn: psycopg.AsyncConnection) -> None:
    if time.monotonic() - _returned_at.get(conn, 0.0) > RECENTLY_USED_S:
        await AsyncConnectionPool.check_connection(conn)


async def _note_return(conn: psycopg.AsyncConnection) -> None:
    _returned_at[conn] = time.monotonic()


async def _configure(conn: psycopg.AsyncConnection) -> None:
    set_json_loads(orjson.loads, conn)  # jsonb columns decoded by orjson (C), not the stdlib json module


class Postgres:
    """Owns one async pool per process; opened lazily so nothing connects at import or construction."""

    def __init__(self, settings: Settings, database: str | None = None) -> None:
        self._settings = settings
        self._pool = AsyncConnectionPool(
            settings.pg_dsn(database),
            min_size=settings.pg_pool_min,
            max_size=settings.pg_pool_max,
            open=False,
            kwargs={"row_factory": dict_row, "autocommit": False},
            configure=_configure,
            check=_check_if_idle,
            reset=_note_return,
            reconnect_timeout=0,  # keep retrying forever: the database may come back
        )
        self._opened = False

    async def open(self) -> None:
        """Open the pool without waiting for connections (the database may be down right now)."""
        if not self._opened:
            await self._pool.open(wait=False)
            self._opened = True

    async def close(self) -> None:
        """Close the pool."""
        if self._opened:
            await self._pool.close()
            self._opened = False

    @contextlib.asynccontextmanager
    async def connection(self, read_only: bool = False) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection inside a transaction (committed on success, rolled back on error).

        read_only: in autocommit mode instead, so a read is one round trip (no BEGIN, no ROLLBACK); only for
        blocks that do nothing but read (each statement then sees its own snapshot)."""
        await self.open()
        try:
            async with self._pool.connection(timeout=self._settings.pg_connect_timeout_s) as conn:
                if not read_only:
                    yield conn
                    return
                await conn.set_autocommit(True)
                try:
                    yield conn
                finally:
                    if not conn.closed:
                        await conn.set_autocommit(False)
        except PoolTimeout as exc:
            raise StorageUnavailable("postgres", "no connection available") from exc
        except psycopg.OperationalError as exc:
            raise StorageUnavailable("postgres", str(exc).splitlines()[0] if str(exc) else "") from exc

    async def ping(self) -> None:
        """Raise StorageUnavailable unless a trivial query succeeds."""
        async with self.connection() as conn:
            await conn.execute("SELECT 1")
