"""PostgreSQL adapter: an async connection pool built from settings, with failures mapped to StorageUnavailable."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from config.settings import Settings
from storage.errors import StorageUnavailable


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
            check=AsyncConnectionPool.check_connection,
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
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection inside a transaction (committed on success, rolled back on error)."""
        await self.open()
        try:
            async with self._pool.connection(timeout=self._settings.pg_connect_timeout_s) as conn:
                yield conn
        except PoolTimeout as exc:
            raise StorageUnavailable("postgres", "no connection available") from exc
        except psycopg.OperationalError as exc:
            raise StorageUnavailable("postgres", str(exc).splitlines()[0] if str(exc) else "") from exc

    async def ping(self) -> None:
        """Raise StorageUnavailable unless a trivial query succeeds."""
        async with self.connection() as conn:
            await conn.execute("SELECT 1")
