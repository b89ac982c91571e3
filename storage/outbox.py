"""The transactional outbox (Postgres `outbox`): events written in the same transaction as the change they
announce, then delivered at least once by the EventDispatcher actor."""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class Event:
    """One event to announce: its type, whose it is, what it is about, and what its consumers read."""

    event_type: str
    user_id: uuid.UUID | None
    aggregate_id: uuid.UUID | None
    payload: dict[str, Any] = field(default_factory=dict)
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


async def insert_events(conn: psycopg.AsyncConnection, events: Sequence[Event]) -> None:
    """Append events to the outbox inside the caller's transaction (one statement for all of them)."""
    if not events:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO outbox (event_id, event_type, user_id, aggregate_id, payload) VALUES (%s, %s, %s, %s, %s)",
            [(e.event_id, e.event_type, e.user_id, e.aggregate_id, Jsonb(_plain(e.payload))) for e in events],
        )
