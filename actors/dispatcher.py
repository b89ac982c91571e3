"""EventDispatcher: delivers outbox events to their consumers, at least once, with per-consumer delivery state.

Why an actor: the outbox is written in the same transaction as each change, with one pending delivery row per
subscribed consumer (storage/outbox.py; the catalogue and the subscriptions are in domain/events.py). Someone must
hand those events to the consumers and mark each delivery done only after the consumer durably applied it. One
named, restartable actor per cluster does it; its loop starts with the actor (also after Ray restarts it).

Per consumer and round: select the due deliveries (never a `seq` cursor: transactions commit out of order), deliver
them, delete the delivered ones, and count a failed attempt with exponential backoff for the others; a delivery that
failed `outbox_max_attempts` times becomes a dead letter, which an operator inspects and replays:

    python -m actors.dispatcher dead-letters                 # list them (oldest first)
    python -m actors.dispatcher dead-letters --replay SEQ    # one event back to pending (fresh attempt count)
    python -m actors.dispatcher dead-letters --all           # every dead letter back to pending
    python -m actors.dispatcher backlog                      # pending and dead per consumer

Consumers are idempotent by event id, so a crash between apply and mark only causes a harmless redelivery.
`Dispatch` is the logic without Ray (unit-tested with fakes); `EventDispatcher` is the Ray actor around it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import ray

from actors.gateway import StatsShardsGateway
from config.settings import Settings
from domain.events import SUBSCRIPTIONS, RetryPolicy
from services.ports import Row, UnitOfWorkFactory

log = logging.getLogger("stride.dispatch")

Deliver = Callable[[list[Row]], Awaitable[Mapping[int, str]]]  # due rows -> failures {seq: error}


def retry_policy(settings: Settings) -> RetryPolicy:
    """The delivery retry policy from settings."""
    return RetryPolicy(settings.outbox_max_attempts, settings.outbox_backoff_base_s, settings.outbox_backoff_max_s)


class Dispatch:
    """One delivery round per consumer (see the module docstring)."""

    def __init__(
        self, uow: UnitOfWorkFactory, consumers: Mapping[str, Deliver], policy: RetryPolicy, batch: int = 500
    ) -> None:
        self.uow = uow
        self.consumers = dict(consumers)
        self.policy = policy
        self.batch = batch
        self.delivered = 0
        self.dead = 0

    async def run_once(self) -> int:
        """Deliver one batch per consumer; returns the largest number of deliveries a consumer handled (a full
        batch means more may be due right away)."""
        results = await asyncio.gather(*(self.consume(name) for name in self.consumers), return_exceptions=True)
        handled = 0
        for name, result in zip(self.consumers, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("dispatch to %s failed: %s", name, result)  # the outbox is unreachable: next round
            else:
                handled = max(handled, result)
        return handled

    async def consume(self, consumer: str) -> int:
        """Deliver the due events of one consumer; returns how many deliveries were handled."""
        async with self.uow() as uow:
            rows = await uow.outbox.due(consumer, self.batch)
        if not rows:
            return 0
        try:
            failures = dict(await self.consumers[consumer](rows))
        except Exception as exc:  # noqa: BLE001 - the consumer as a whole failed: every event is retried
            failures = {int(r["seq"]): f"{type(exc).__name__}: {exc}" for r in rows}
        due = {int(r["seq"]) for r in rows}
        failures = {seq: error for seq, error in failures.items() if seq in due}
        done = sorted(due - set(failures))
        async with self.uow() as uow:
            await uow.outbox.delivered(consumer, done)
            dead = await uow.outbox.failed(consumer, failures, self.policy)
            await uow.commit()
        if failures:
            log.warning(
                "%s: %d of %d deliveries failed (first: %s)",
                consumer,
                len(failures),
                len(rows),
                next(iter(failures.values())),
            )
        if dead:
            log.error(
                "%s: events %s became dead letters after %d attempts (python -m actors.dispatcher dead-letters)",
                consumer,
                dead,
                self.policy.max_attempts,
            )
        self.delivered += len(done)
        self.dead += len(dead)
        return len(rows)


def stats_consumer(shards: StatsShardsGateway) -> Deliver:
    """Delivery to the stats actors: events grouped by owning shard, each group in one call; a shard that cannot
    be reached fails its group, a shard that fails single events reports them."""

    async def deliver(rows: list[Row]) -> dict[int, str]:
        groups: dict[int, list[Row]] = {}
        for row in rows:
            if row["user_id"] is not None:
                groups.setdefault(shards.owner_index(row["user_id"]), []).append(_event(row))
        results = await asyncio.gather(
            *(shards.apply_events(i, evs) for i, evs in groups.items()), return_exceptions=True
        )
        failures: dict[int, str] = {}
        for (index, events), result in zip(groups.items(), results, strict=True):
            if isinstance(result, BaseException):
                failures.update({int(e["seq"]): f"stats shard {index}: {result}" for e in events})
            else:
                failures.update({int(f["seq"]): str(f["error"]) for f in result})
        return failures

    return deliver


def _event(row: Row) -> Row:
    return {
        "seq": row["seq"],
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "user_id": str(row["user_id"]),
        "aggregate_id": str(row["aggregate_id"] or row["user_id"]),
    }


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class EventDispatcher:
    """The Ray actor running `Dispatch` in a loop from its constructor."""

    def __init__(self, settings: Settings, stats_shards: list[Any]) -> None:
        from storage.postgres import Postgres
        from storage.uow import PostgresUnitOfWork

        self.settings = settings
        pg = Postgres(settings)
        consumers: dict[str, Deliver] = {"stats": stats_consumer(StatsShardsGateway(stats_shards))}
        missing = set(SUBSCRIPTIONS) - set(consumers)
        if missing:  # a subscribed consumer without a delivery function would pile up pending rows forever
            raise RuntimeError(f"no delivery function for subscribed consumers {sorted(missing)}")
        uow = cast(UnitOfWorkFactory, lambda read_only=False: PostgresUnitOfWork(pg, read_only=read_only))
        self.dispatch = Dispatch(uow, consumers, retry_policy(settings), settings.dispatch_batch)
        # the loop starts with the actor (also after a restart by Ray), not with the first call
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def ping(self) -> str:
        """Liveness."""
        return "ok"

    async def counters(self) -> dict[str, int]:
        """Deliveries done and dead-lettered since this actor started."""
        return {"delivered": self.dispatch.delivered, "dead": self.dispatch.dead}

    async def _loop(self) -> None:
        while True:
            try:
                handled = await self.dispatch.run_once()
            except Exception as exc:  # never let the loop die; the next round retries
                log.exception("dispatch round failed: %s", exc)
                handled = 0
            if handled < self.settings.dispatch_batch:
                await asyncio.sleep(self.settings.dispatch_interval_s)


# ---------------------------------------------------------------------------------------------- operator CLI


async def _cli(args: argparse.Namespace, settings: Settings) -> int:
    from storage.postgres import Postgres
    from storage.uow import PostgresUnitOfWork

    pg = Postgres(settings)
    try:
        async with PostgresUnitOfWork(pg) as uow:
            if args.command == "backlog":
                print(json.dumps(await uow.outbox.backlog(), indent=2, sort_keys=True))
                return 0
            if args.replay is not None or args.all:
                n = await uow.outbox.replay(None if args.all else args.replay, args.consumer)
                await uow.commit()
                print(f"{n} dead letter(s) back to pending")
                return 0 if n or args.all else 1
            for row in await uow.outbox.dead_letters(args.limit, args.consumer):
                print(
                    json.dumps(
                        {
                            k: (str(v) if isinstance(v, uuid.UUID) or hasattr(v, "isoformat") else v)
                            for k, v in row.items()
                        },
                        sort_keys=True,
                    )
                )
            return 0
    finally:
        await pg.close()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m actors.dispatcher dead-letters [--replay SEQ | --all] [--consumer NAME]` or `backlog`."""
    parser = argparse.ArgumentParser(prog="python -m actors.dispatcher", description="Outbox operator commands.")
    sub = parser.add_subparsers(dest="command", required=True)
    dead = sub.add_parser("dead-letters", help="list dead letters (JSON lines), or replay them")
    group = dead.add_mutually_exclusive_group()
    group.add_argument("--replay", type=int, metavar="SEQ", help="put one dead letter (outbox seq) back to pending")
    group.add_argument("--all", action="store_true", help="put every dead letter back to pending")
    dead.add_argument("--consumer", help="only this consumer's dead letters")
    dead.add_argument("--limit", type=int, default=100)
    sub.add_parser("backlog", help="pending deliveries and dead letters per consumer")
    args = parser.parse_args(argv)
    if args.command == "backlog":
        args.replay, args.all, args.consumer = None, False, None
    return asyncio.run(_cli(args, Settings.model_validate({})))


if __name__ == "__main__":
    sys.exit(main())
