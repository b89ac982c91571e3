"""The Redis side of live workouts: latest metrics per workout, pub/sub fan-out, socket revocations.

- `RedisLiveFeed` (services.ports.LiveFeed): used by the WorkoutShards (publish, end) and the LiveService (latest
  metrics, share revocations). Best effort: a Redis failure is logged and swallowed (Redis holds nothing that is
  not elsewhere; the hub's periodic re-check covers a lost revocation).
- `RedisSubscriber`: ONE pub/sub connection per replica, owned by the replica's socket hub
  (serve_app/live_hub.py), which fans messages out to its local sockets. Sockets never hold a Redis connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from storage.redis_store import REDIS_ERRORS

log = logging.getLogger("stride.live_feed")

REVOCATIONS_CHANNEL = "stride:revocations"
METRICS_TTL_S = 3600
_FAILURES = (*REDIS_ERRORS, RedisError)


def live_channel(activity_id: uuid.UUID | str) -> str:
    """Pub/sub channel of a live workout's updates."""
    return f"live:{activity_id}"


def metrics_key(user_id: uuid.UUID | str, activity_id: uuid.UUID | str) -> str:
    """Key holding a live workout's latest metrics (under the owner's erasable `u:{user_id}:` prefix)."""
    return f"u:{user_id}:live:{activity_id}"


class RedisLiveFeed:
    """services.ports.LiveFeed over a Redis client (the caller's request-path pool)."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    async def latest(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> dict[str, Any] | None:
        try:
            cached = await self.redis.get(metrics_key(user_id, activity_id))
        except _FAILURES as exc:
            log.debug("live metrics cache unavailable: %s", exc)
            return None
        if cached is None:
            return None
        body: dict[str, Any] = json.loads(cached)
        body.pop("type", None)
        return body

    async def publish(self, user_id: uuid.UUID, activity_id: uuid.UUID, message: dict[str, Any]) -> None:
        data = json.dumps(message)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(metrics_key(user_id, activity_id), data, ex=METRICS_TTL_S)
                pipe.publish(live_channel(activity_id), data)
                await pipe.execute()
        except _FAILURES as exc:
            log.debug("live publish skipped: %s", exc)

    async def announce_end(self, user_id: uuid.UUID, activity_id: uuid.UUID, how: str) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.delete(metrics_key(user_id, activity_id))
                pipe.publish(live_channel(activity_id), json.dumps({"type": how, "activity_id": str(activity_id)}))
                await pipe.execute()
        except _FAILURES as exc:
            log.warning("live end of %s not announced (sockets close at their next re-check): %s", activity_id, exc)

    async def announce_share_revoked(self, share_id: uuid.UUID, activity_id: uuid.UUID) -> None:
        message = {"share_id": str(share_id), "activity_id": str(activity_id), "reason": "share_revoked"}
        try:
            await self.redis.publish(REVOCATIONS_CHANNEL, json.dumps(message))
        except _FAILURES as exc:
            log.warning("share revocation not announced (sockets close at their next re-check): %s", exc)


class RedisSubscriber:
    """One pub/sub connection (from its own small client, never the request-path pool) that follows a changing
    set of channels and yields (channel, parsed JSON) pairs; reconnects and re-subscribes by itself.

    `subscribe`/`unsubscribe` only send commands on the connection; the one reader is `messages()`.
    """

    def __init__(self, redis: Any, *, poll_s: float = 1.0, retry_s: float = 1.0) -> None:
        self.redis = redis
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.channels: set[str] = set()
        self._pubsub: PubSub | None = None
        self._lock = asyncio.Lock()
        self.connected = asyncio.Event()
        self.reconnects = 0

    async def subscribe(self, channels: Iterable[str]) -> None:
        """Follow these channels (a no-op for those already followed)."""
        new = [c for c in channels if c not in self.channels]
        self.channels.update(new)
        if new:
            await self._send("subscribe", new)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        """Stop following these channels."""
        gone = [c for c in channels if c in self.channels]
        self.channels.difference_update(gone)
        if gone:
            await self._send("unsubscribe", gone)

    async def _send(self, command: str, channels: list[str]) -> None:
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None or not self.connected.is_set():
                return  # the reader subscribes to self.channels when it (re)connects
            try:
                await getattr(pubsub, command)(*channels)
            except _FAILURES as exc:
                log.debug("pub/sub %s failed (resubscribed on reconnect): %s", command, exc)

    async def messages(self) -> AsyncIterator[tuple[str, Any]]:
        """Every message on the followed channels, forever (JSON-decoded; undecodable ones are skipped)."""
        while True:
            if not self.channels:
                await asyncio.sleep(self.poll_s)
                continue
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                async with self._lock:
                    await pubsub.subscribe(*sorted(self.channels))
                    self._pubsub = pubsub
                    self.connected.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=self.poll_s)
                    if message is None or message.get("type") != "message":
                        continue
                    channel = message["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else str(channel)
                    try:
                        data = json.loads(message["data"])
                    except (ValueError, TypeError):
                        log.warning("undecodable message on %s", channel)
                        continue
                    yield channel, data
            except _FAILURES as exc:
                log.warning("live pub/sub connection lost (%s); reconnecting", exc)
            finally:
                self.connected.clear()
                await self._close()
            self.reconnects += 1
            await asyncio.sleep(self.retry_s)

    async def _close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*_FAILURES):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Drop the connection (the reader stops when its task is cancelled)."""
        await self._close()
