"""The Postgres unit of work: one pooled connection, one transaction, the repositories bound to it, and the
outbox events emitted during it (written at commit, in the same transaction)."""

from __future__ import annotations

import contextlib
import uuid
from types import TracebackType
from typing import Any

import psycopg

from storage.activities import PgActivities
from storage.goals import PgGoals
from storage.live import PgLive
from storage.outbox import Event, PgOutbox, insert_events
from storage.postgres import Postgres
from storage.stats import PgStats
from storage.users import PgDevices, PgLoginSessions, PgUsers


class PostgresUnitOfWork:
    """`async with uow: ...; await uow.commit()`; leaving without commit (or on an error) rolls back."""

    def __init__(self, pg: Postgres, read_only: bool = False) -> None:
        self._pg = pg
        self.read_only = read_only  # a read: autocommit, one round trip per statement; commit() refuses
        self._cm: contextlib.AbstractAsyncContextManager[psycopg.AsyncConnection] | None = None
        self._conn: psycopg.AsyncConnection | None = None
        self._events: list[Event] = []
        self.committed = False

    @property
    def conn(self) -> psycopg.AsyncConnection:
        """The transaction's connection (only inside the block)."""
        if self._conn is None:
            raise RuntimeError("unit of work used outside its `async with` block")
        return self._conn

    async def __aenter__(self) -> PostgresUnitOfWork:
        self._cm = self._pg.connection(read_only=self.read_only)
        self._conn = await self._cm.__aenter__()
        self._events = []
        self.committed = False
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._cm is not None
        try:
            if (
                exc_type is None
                and not self.committed
                and not self.read_only
                and self._conn is not None
                and not self._conn.closed
            ):
                await self._conn.rollback()
        finally:
            cm, self._cm, self._conn = self._cm, None, None
            self._events = []
            await cm.__aexit__(exc_type, exc, tb)

    def emit(
        self, event_type: str, user_id: uuid.UUID, aggregate_id: uuid.UUID, payload: dict[str, Any] | None = None
    ) -> uuid.UUID:
        """Queue an event for the outbox; written at commit."""
        event = Event(event_type, user_id, aggregate_id, payload or {})
        self._events.append(event)
        return event.event_id

    async def commit(self) -> None:
        """Write the queued events, then commit the transaction."""
        if self.read_only:
            raise RuntimeError("commit() in a read-only unit of work")
        await insert_events(self.conn, self._events)
        self._events = []
        await self.conn.commit()
        self.committed = True

    async def rollback(self) -> None:
        """Undo the transaction and forget the queued events."""
        self._events = []
        await self.conn.rollback()

    # ------------------------------------------------------------------ repositories (bound to the connection)

    @property
    def activities(self) -> PgActivities:
        return PgActivities(self.conn)

    @property
    def users(self) -> PgUsers:
        return PgUsers(self.conn)

    @property
    def sessions(self) -> PgLoginSessions:
        return PgLoginSessions(self.conn)

    @property
    def devices(self) -> PgDevices:
        return PgDevices(self.conn)

    @property
    def live(self) -> PgLive:
        return PgLive(self.conn)

    @property
    def goals(self) -> PgGoals:
        return PgGoals(self.conn)

    @property
    def stats(self) -> PgStats:
        return PgStats(self.conn)

    @property
    def outbox(self) -> PgOutbox:
        return PgOutbox(self.conn)
