"""The transactional outbox (Postgres `outbox`, `outbox_deliveries`, `outbox_dead_letters`).

Events are written in the same transaction as the change they announce (`insert_events`, called by the unit of
work's `commit`), together with one pending delivery row per consumer subscribed to the event's type
(`domain.events.SUBSCRIPTIONS`; the event catalogue, with producers, consumers and payloads, is documented there).
The EventDispatcher actor then, per consumer:

- selects due deliveries (`due`: `next_attempt_at <= now()`, index `(consumer, next_attempt_at, seq)`), never
  through a `seq` cursor (transactions commit out of `seq` order; a cursor would skip the late ones);
- deletes a delivery once the consumer confirmed it (`delivered`);
- on failure counts the attempt and backs off (`failed`: `next_attempt_at = now() + min(max, base·2^(attempts-1))`,
  `last_error`), and after `max_attempts` moves the delivery to `outbox_dead_letters`, where an operator inspects
  and replays it (`dead_letters`, `replay`; `python -m actors.dispatcher dead-letters`).

An event no consumer takes gets no delivery row, so nothing ever walks past it; the janitor prunes outbox rows older
than the retention that have nothing pending and no dead letter (`prune`). Deleting an outbox row (prune, account
erasure) deletes its deliveries and dead letters with it (foreign keys, ON DELETE CASCADE).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg

from domain.events import RetryPolicy, consumers_of, outbox_payload


@dataclass(frozen=True)
class Event:
    """One event to announce: its type, whose it is, what it is about, and what its consumers read."""

    event_type: str
    user_id: uuid.UUID | None
    aggregate_id: uuid.UUID | None
    payload: dict[str, Any] = field(default_factory=dict)
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


_INSERT = """
WITH ev AS (
    INSERT INTO outbox (event_id, event_type, user_id, aggregate_id, payload)
    SELECT e.event_id, e.event_type, e.user_id, e.aggregate_id, e.payload::jsonb
    FROM unnest(%s::uuid[], %s::text[], %s::uuid[], %s::uuid[], %s::text[])
         AS e(event_id, event_type, user_id, aggregate_id, payload)
    RETURNING seq, event_type
)
INSERT INTO outbox_deliveries (seq, consumer)
SELECT ev.seq, s.consumer FROM ev JOIN unnest(%s::text[], %s::text[]) AS s(event_type, consumer) USING (event_type)
"""


async def insert_events(
    conn: psycopg.AsyncConnection[Any],
    events: Sequence[Event],
    subscriptions: Mapping[str, frozenset[str]] | None = None,
) -> None:
    """Append events and their pending deliveries inside the caller's transaction: one statement, one round trip.
    Payloads are written only for event types whose consumers read them (domain.events); an event type missing
    from the catalogue is a ValueError."""
    if not events:
        return
    payloads = [_json(outbox_payload(e.event_type, e.payload)) for e in events]
    types = sorted({e.event_type for e in events})
    pairs = [(t, c) for t in types for c in consumers_of(t, subscriptions)]
    await conn.execute(
        _INSERT,
        (
            [e.event_id for e in events],
            [e.event_type for e in events],
            [e.user_id for e in events],
            [e.aggregate_id for e in events],
            payloads,
            [p[0] for p in pairs],
            [p[1] for p in pairs],
        ),
    )


class PgOutbox:
    """services.ports.OutboxRepository: delivery state of the outbox, bound to the unit of work's connection."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def due(self, consumer: str, limit: int) -> list[dict[str, Any]]:
        """Deliveries of `consumer` whose time has come, oldest first, with their events:
        {seq, attempts, event_id, event_type, user_id, aggregate_id, payload, created_at}."""
        cur = await self.conn.execute(
            "SELECT d.seq, d.attempts, o.event_id, o.event_type, o.user_id, o.aggregate_id, o.payload, o.created_at"
            " FROM outbox_deliveries d JOIN outbox o ON o.seq = d.seq"
            " WHERE d.consumer = %s AND d.next_attempt_at <= now() ORDER BY d.next_attempt_at, d.seq LIMIT %s",
            (consumer, limit),
        )
        return await cur.fetchall()

    async def delivered(self, consumer: str, seqs: Sequence[int]) -> None:
        """The consumer applied these: their deliveries are done."""
        if seqs:
            await self.conn.execute(
                "DELETE FROM outbox_deliveries WHERE consumer = %s AND seq = ANY(%s)", (consumer, list(seqs))
            )

    async def failed(self, consumer: str, failures: Mapping[int, str], policy: RetryPolicy) -> list[int]:
        """Count a failed attempt for each delivery (with its error) and back off; deliveries that reached
        `policy.max_attempts` move to the dead letters. Returns the seqs dead-lettered now."""
        if not failures:
            return []
        seqs = list(failures)
        await self.conn.execute(
            "UPDATE outbox_deliveries d SET attempts = d.attempts + 1, last_error = f.error,"
            " next_attempt_at = now() + make_interval(secs => least(%s, %s * power(2, d.attempts)))"
            " FROM unnest(%s::bigint[], %s::text[]) AS f(seq, error) WHERE d.consumer = %s AND d.seq = f.seq",
            (policy.backoff_max_s, policy.backoff_base_s, seqs, [failures[s][:2000] for s in seqs], consumer),
        )
        cur = await self.conn.execute(
            "WITH dead AS (DELETE FROM outbox_deliveries WHERE consumer = %s AND seq = ANY(%s) AND attempts >= %s"
            " RETURNING seq, consumer, attempts, last_error)"
            " INSERT INTO outbox_dead_letters (seq, consumer, attempts, last_error)"
            " SELECT seq, consumer, attempts, last_error FROM dead"
            " ON CONFLICT (seq, consumer) DO UPDATE SET attempts = EXCLUDED.attempts,"
            " last_error = EXCLUDED.last_error, failed_at = now() RETURNING seq",
            (consumer, seqs, policy.max_attempts),
        )
        return sorted(r["seq"] for r in await cur.fetchall())

    async def dead_letters(self, limit: int = 100, consumer: str | None = None) -> list[dict[str, Any]]:
        """Dead letters, oldest first: {seq, consumer, attempts, last_error, failed_at, event_id, event_type,
        user_id, aggregate_id, created_at}."""
        cur = await self.conn.execute(
            "SELECT x.seq, x.consumer, x.attempts, x.last_error, x.failed_at, o.event_id, o.event_type, o.user_id,"
            " o.aggregate_id, o.created_at FROM outbox_dead_letters x JOIN outbox o ON o.seq = x.seq"
            " WHERE %s::text IS NULL OR x.consumer = %s ORDER BY x.failed_at, x.seq LIMIT %s",
            (consumer, consumer, limit),
        )
        return await cur.fetchall()

    async def replay(self, seq: int | None = None, consumer: str | None = None) -> int:
        """Move dead letters (one `seq`, or all; optionally of one consumer) back to pending with a fresh attempt
        count; returns how many."""
        cur = await self.conn.execute(
            "WITH back AS (DELETE FROM outbox_dead_letters WHERE (%s::bigint IS NULL OR seq = %s)"
            " AND (%s::text IS NULL OR consumer = %s) RETURNING seq, consumer)"
            " INSERT INTO outbox_deliveries (seq, consumer) SELECT seq, consumer FROM back"
            " ON CONFLICT (seq, consumer) DO NOTHING RETURNING seq",
            (seq, seq, consumer, consumer),
        )
        return len(await cur.fetchall())

    async def prune(self, retention_s: float, limit: int = 1000) -> int:
        """Delete up to `limit` outbox rows older than the retention with nothing pending and no dead letter."""
        cur = await self.conn.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT o.seq FROM outbox o"
            " WHERE o.created_at < now() - make_interval(secs => %s)"
            " AND NOT EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.seq = o.seq)"
            " AND NOT EXISTS (SELECT 1 FROM outbox_dead_letters x WHERE x.seq = o.seq)"
            " ORDER BY o.seq LIMIT %s)",
            (retention_s, limit),
        )
        return cur.rowcount

    async def backlog(self) -> dict[str, dict[str, int]]:
        """Per consumer: deliveries pending and dead letters (for operators)."""
        cur = await self.conn.execute(
            "SELECT consumer, 'pending' AS kind, count(*) AS n FROM outbox_deliveries GROUP BY consumer"
            " UNION ALL SELECT consumer, 'dead', count(*) FROM outbox_dead_letters GROUP BY consumer"
        )
        out: dict[str, dict[str, int]] = {}
        for row in await cur.fetchall():
            out.setdefault(row["consumer"], {"pending": 0, "dead": 0})[row["kind"]] = int(row["n"])
        return out
