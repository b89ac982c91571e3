"""In-memory implementations of every port in services.ports, for unit tests of the use cases (milliseconds, no
Postgres, Cassandra, Redis or Ray). They keep the real adapters' contracts: a unit of work rolls back everything
(rows and emitted events) unless committed, sample writes are idempotent, actor gateways raise domain errors.

    db = FakeDatabase()
    svc = ActivityService(db.uow, FakeSamples(), FakePurges(db), FakeWorkouts())

Per-area fakes live in their own modules (`services.fakes.activities`, ...); `FakeDatabase` ties them together.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from domain.events import consumers_of, outbox_payload
from services.fakes.accounts import FakeDevices, FakeLoginSessions, FakeUsers
from services.fakes.activities import FakeActivities, FakePurges, FakeSamples, FakeWorkouts
from services.fakes.live import FakeLive, FakeLiveFeed
from services.fakes.progress import FakeGoals, FakeOutbox, FakeStats, FakeStatsCache, FakeStatsShards


@dataclass
class EmittedEvent:
    """An outbox row as the fake stores it."""

    seq: int
    event_id: uuid.UUID
    event_type: str
    user_id: uuid.UUID | None
    aggregate_id: uuid.UUID | None
    payload: dict[str, Any]
    created_at: float = 0.0  # the database clock at commit


@dataclass
class FakeDatabase:
    """The committed state every fake repository reads and writes (tables are plain dicts and lists)."""

    tables: dict[str, Any] = field(
        default_factory=lambda: {
            "activities": {},
            "strength_sets": {},
            "insights": {},
            "sample_purges": {},
            "profiles": {},
            "outbox": [],
            "live_sessions": {},
            "live_shares": {},
            "goals": {},
            "users": {},
            "facts": {},
            "user_stats": {},
            "outbox_deliveries": {},
            "outbox_dead_letters": {},
            "outbox_seq": 0,
        }
    )
    commits: int = 0
    rollbacks: int = 0
    fail_next_commit: BaseException | None = None
    clock: Callable[[], float] = time.monotonic  # now(), in seconds (tests may step it)

    def uow(self, *, read_only: bool = False) -> FakeUnitOfWork:
        """A unit of work on this database (the UnitOfWorkFactory)."""
        return FakeUnitOfWork(self, read_only=read_only)

    @property
    def outbox(self) -> list[EmittedEvent]:
        """Committed events, in commit order."""
        return list(self.tables["outbox"])


class FakeUnitOfWork:
    """Works on a private copy of the tables; commit swaps it in, anything else throws it away."""

    def __init__(self, db: FakeDatabase, read_only: bool = False) -> None:
        self.db = db
        self.read_only = read_only
        self.tables: dict[str, Any] = {}
        self.events: list[tuple[uuid.UUID, str, uuid.UUID | None, uuid.UUID | None, dict[str, Any]]] = []
        self.committed = False

    async def __aenter__(self) -> FakeUnitOfWork:
        self.tables = copy.deepcopy(self.db.tables)
        self.events = []
        self.committed = False
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.committed:
            self.db.rollbacks += 1
        self.tables, self.events = {}, []

    def emit(
        self, event_type: str, user_id: uuid.UUID, aggregate_id: uuid.UUID, payload: dict[str, Any] | None = None
    ) -> uuid.UUID:
        event_id = uuid.uuid4()
        self.events.append((event_id, event_type, user_id, aggregate_id, dict(payload or {})))
        return event_id

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("commit() in a read-only unit of work")
        if self.db.fail_next_commit is not None:
            exc, self.db.fail_next_commit = self.db.fail_next_commit, None
            raise exc
        outbox, now = self.tables["outbox"], self.db.clock()
        for event_id, event_type, user_id, aggregate_id, payload in self.events:
            # as storage.outbox.insert_events: the payload only if a consumer reads it, one pending delivery per
            # subscribed consumer (domain.events), an event type missing from the catalogue is a ValueError
            self.tables["outbox_seq"] += 1
            seq = self.tables["outbox_seq"]
            outbox.append(
                EmittedEvent(seq, event_id, event_type, user_id, aggregate_id, outbox_payload(event_type, payload), now)
            )
            for consumer in consumers_of(event_type):
                self.tables["outbox_deliveries"][(seq, consumer)] = {
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": None,
                }
        self.db.tables = self.tables
        self.tables = copy.deepcopy(self.tables)
        self.events = []
        self.committed = True
        self.db.commits += 1

    async def rollback(self) -> None:
        self.tables = copy.deepcopy(self.db.tables)
        self.events = []

    @property
    def activities(self) -> FakeActivities:
        return FakeActivities(self.tables)

    @property
    def users(self) -> FakeUsers:
        return FakeUsers(self.tables)

    @property
    def sessions(self) -> FakeLoginSessions:
        return FakeLoginSessions(self.tables)

    @property
    def devices(self) -> FakeDevices:
        return FakeDevices(self.tables)

    @property
    def live(self) -> FakeLive:
        return FakeLive(self.tables)

    @property
    def goals(self) -> FakeGoals:
        return FakeGoals(self.tables)

    @property
    def stats(self) -> FakeStats:
        return FakeStats(self.tables)

    @property
    def outbox(self) -> FakeOutbox:
        return FakeOutbox(self.tables, self.db.clock)


__all__ = [
    "EmittedEvent",
    "FakeActivities",
    "FakeDatabase",
    "FakeGoals",
    "FakeLive",
    "FakeLiveFeed",
    "FakeOutbox",
    "FakePurges",
    "FakeSamples",
    "FakeStats",
    "FakeStatsCache",
    "FakeStatsShards",
    "FakeUnitOfWork",
    "FakeWorkouts",
]
