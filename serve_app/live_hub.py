"""The socket hub of one replica: live updates and revocations fanned out to this replica's WebSockets.

One Redis pub/sub connection per replica (storage.live_feed.RedisSubscriber) follows the channel of every workout
that has a socket here (`live:{activity_id}`) plus `stride:revocations`; each message is copied into the queues of
the local sockets it concerns. A socket therefore never holds a Redis connection, and the request-path pool stays
for requests (issue 9 #12).

The hub also enforces:
- caps per workout, per share link and per client address (settings `live_ws_max_per_*`, per replica): a socket
  past a cap is closed with 4429 right after the handshake;
- revocations within seconds: `stride:revocations` messages (logout, refresh-token reuse, account deletion, share
  revoked) close the matching sockets (4401 credentials gone, 4404 workout or share link gone); an owner's access
  token closes the socket when its `exp` passes (4401; the client reconnects with a fresh token, or sends a new
  `auth` message before that); and because pub/sub is at most once, every socket's credential is re-checked every
  `live_ws_recheck_s` (one check per distinct token).
A slow socket loses old metrics updates (its queue is bounded), never acks or its close.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from config.settings import Settings
from storage.live_feed import REVOCATIONS_CHANNEL, RedisSubscriber, live_channel

log = logging.getLogger("stride.live_hub")

# close codes (RFC 6455 private range 4000-4999 mirrors the HTTP statuses)
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429


@dataclass(frozen=True)
class Close:
    """The last thing a socket's queue yields: close with this code."""

    code: int
    reason: str


class Outbox:
    """Messages waiting for one socket. Droppable ones (metrics updates) are dropped oldest-first past `limit`;
    replies and the close never are."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[tuple[str, bool]] = deque()
        self._ready = asyncio.Event()
        self.closing: Close | None = None
        self.dropped = 0

    def push(self, text: str, *, droppable: bool = True) -> None:
        if self.closing is not None:
            return
        self._items.append((text, droppable))
        if len(self._items) > self.limit:
            for i, (_, can_drop) in enumerate(self._items):
                if can_drop:
                    del self._items[i]
                    self.dropped += 1
                    break
        self._ready.set()

    def close(self, code: int, reason: str) -> None:
        """Close after what is queued (the first close wins)."""
        if self.closing is None:
            self.closing = Close(code, reason[:120])
            self._ready.set()

    async def next(self) -> str | Close:
        while True:
            if self._items:
                return self._items.popleft()[0]
            if self.closing is not None:
                return self.closing
            self._ready.clear()
            await self._ready.wait()


@dataclass(eq=False)
class Socket:
    """One open socket, as the hub sees it."""

    activity_id: uuid.UUID
    owner_id: uuid.UUID  # the workout's owner (the user for an owner socket, the athlete for a follower)
    client: str
    outbox: Outbox
    follower: bool = False
    share_id: uuid.UUID | None = None
    token: str | None = field(default=None, repr=False)  # the credential re-checked (access/device or share token)
    session_id: uuid.UUID | None = None  # an owner's login session (None for a device token)
    device_id: uuid.UUID | None = None  # an owner's device (a device token)
    expires_at: float | None = None  # epoch seconds when an owner's access token expires


class Refused(Exception):
    """A socket may not join (a cap)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


Recheck = Callable[[Socket], Awaitable[bool]]


class LiveHub:
    """Sockets of this replica by workout, share link, owner and client address; see the module docstring."""

    def __init__(
        self, settings: Settings, subscriber: RedisSubscriber, recheck: Recheck | None = None, *, sweep_s: float = 1.0
    ) -> None:
        self.settings = settings
        self.subscriber = subscriber
        self.recheck = recheck
        self.sweep_s = sweep_s
        self.by_activity: dict[uuid.UUID, set[Socket]] = {}
        self.by_share: dict[uuid.UUID, set[Socket]] = {}
        self.by_owner: dict[uuid.UUID, set[Socket]] = {}
        self.by_client: dict[str, set[Socket]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._last_recheck = time.monotonic()
        self.delivered = 0

    # ------------------------------------------------------------------ membership

    def outbox(self) -> Outbox:
        """A queue sized by the settings, for a new socket."""
        return Outbox(self.settings.live_ws_send_queue)

    def _check_caps(self, socket: Socket) -> None:
        s = self.settings
        if len(self.by_client.get(socket.client, ())) >= s.live_ws_max_per_client:
            raise Refused(CLOSE_TOO_MANY, f"too many live sockets from this address (max {s.live_ws_max_per_client})")
        if len(self.by_activity.get(socket.activity_id, ())) >= s.live_ws_max_per_activity:
            raise Refused(CLOSE_TOO_MANY, f"too many sockets on this workout (max {s.live_ws_max_per_activity})")
        if socket.share_id is not None and len(self.by_share.get(socket.share_id, ())) >= s.live_ws_max_per_share:
            raise Refused(CLOSE_TOO_MANY, f"too many followers on this share link (max {s.live_ws_max_per_share})")

    async def join(self, socket: Socket) -> None:
        """Register a socket and follow its workout's channel; Refused past a cap."""
        self._check_caps(socket)
        await self._start()
        first = socket.activity_id not in self.by_activity
        for index, key in self._keys(socket):
            index.setdefault(key, set()).add(socket)
        if first:
            await self.subscriber.subscribe([live_channel(socket.activity_id)])

    async def leave(self, socket: Socket) -> None:
        """Forget a socket; stop following its workout when it was the last one here."""
        for index, key in self._keys(socket):
            members = index.get(key)
            if members is not None:
                members.discard(socket)
                if not members:
                    del index[key]
        if socket.activity_id not in self.by_activity:
            await self.subscriber.unsubscribe([live_channel(socket.activity_id)])

    def _keys(self, socket: Socket) -> Iterable[tuple[dict[Any, set[Socket]], Any]]:
        yield self.by_activity, socket.activity_id
        yield self.by_owner, socket.owner_id
        yield self.by_client, socket.client
        if socket.share_id is not None:
            yield self.by_share, socket.share_id

    def sockets(self) -> list[Socket]:
        """Every socket of this replica."""
        return [s for members in self.by_activity.values() for s in members]

    def stats(self) -> dict[str, Any]:
        """Counts for tests and operators."""
        return {
            "sockets": len(self.sockets()),
            "workouts": len(self.by_activity),
            "channels": len(self.subscriber.channels),
            "reconnects": self.subscriber.reconnects,
            "delivered": self.delivered,
        }

    # ------------------------------------------------------------------ background work

    async def _start(self) -> None:
        """The reader and the sweeper run in the replica's loop from the first socket on (restarted if one died)."""
        if self._tasks and not any(t.done() for t in self._tasks):
            return
        for task in self._tasks:
            task.cancel()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read()), loop.create_task(self._sweep())]  # before any await: once
        await self.subscriber.subscribe([REVOCATIONS_CHANNEL])

    async def _read(self) -> None:
        async for channel, data in self.subscriber.messages():
            try:
                self.dispatch(channel, data)
            except Exception:  # one bad message must not stop the fan-out
                log.exception("live hub could not dispatch a message on %s", channel)

    def dispatch(self, channel: str, data: Any) -> None:
        """Route one pub/sub message to the local sockets it concerns."""
        if channel == REVOCATIONS_CHANNEL:
            self.revoke(data)
            return
        if not channel.startswith("live:") or not isinstance(data, dict):
            return
        try:
            activity_id = uuid.UUID(channel[5:])
        except ValueError:
            return
        members = self.by_activity.get(activity_id, ())
        if not members:
            return
        text = json.dumps(data)
        ended = data.get("type") in ("finished", "discarded")
        for socket in members:
            socket.outbox.push(text, droppable=not ended)
            if ended:
                socket.outbox.close(CLOSE_NORMAL, f"workout {data['type']}")
            self.delivered += 1

    def revoke(self, data: Any) -> int:
        """Close the sockets a revocation concerns (see services.ports.LiveFeed); returns how many."""
        if not isinstance(data, dict):
            return 0
        reason = str(data.get("reason", ""))
        closed = 0
        try:
            if reason == "share_revoked":
                for socket in self.by_share.get(uuid.UUID(str(data["share_id"])), set()).copy():
                    socket.outbox.close(CLOSE_NOT_FOUND, "share link revoked")
                    closed += 1
                return closed
            user_id = uuid.UUID(str(data["user_id"]))
            session = data.get("session_id")
            session_id = uuid.UUID(str(session)) if session else None
        except (KeyError, ValueError):
            log.warning("malformed revocation message: %r", data)
            return 0
        for socket in self.by_owner.get(user_id, set()).copy():
            if reason == "account_deleted":
                socket.outbox.close(
                    CLOSE_NOT_FOUND if socket.follower else CLOSE_UNAUTHORIZED,
                    "workout gone" if socket.follower else "account deleted",
                )
            elif socket.follower:
                continue  # a logout ends the athlete's own sockets, not the followers' view
            elif session_id is None or socket.session_id == session_id:
                socket.outbox.close(CLOSE_UNAUTHORIZED, f"session revoked ({reason or 'revoked'})")
            else:
                continue
            closed += 1
        return closed

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_s)
            try:
                await self.sweep()
            except Exception:  # retried next round
                log.exception("live hub sweep failed")

    async def sweep(self, *, force_recheck: bool = False) -> None:
        """Close owner sockets whose access token expired; every `live_ws_recheck_s`, re-check every credential."""
        now = time.time()
        for socket in self.sockets():
            if socket.expires_at is not None and socket.expires_at <= now:
                socket.outbox.close(CLOSE_UNAUTHORIZED, "access token expired")
        due = time.monotonic() - self._last_recheck >= self.settings.live_ws_recheck_s
        if self.recheck is None or not (due or force_recheck):
            return
        self._last_recheck = time.monotonic()
        groups: dict[tuple[bool, uuid.UUID, str | None], list[Socket]] = {}
        for socket in self.sockets():
            if socket.outbox.closing is None:
                groups.setdefault((socket.follower, socket.activity_id, socket.token), []).append(socket)
        for members in groups.values():
            if not await self.recheck(members[0]):
                for socket in members:
                    socket.outbox.close(
                        CLOSE_NOT_FOUND if socket.follower else CLOSE_UNAUTHORIZED,
                        "share link no longer valid" if socket.follower else "credentials revoked",
                    )

    async def close(self) -> None:
        """Stop the background tasks and the pub/sub connection."""
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        await self.subscriber.close()
