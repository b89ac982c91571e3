"""Login sessions: is this session still active, and revoking one.

An access token is good only while its login session (`sid`) is active. Where the answer comes from, per request:

1. Redis, in the same round trip that takes the user's API rate-limit token (SessionGate.check: one script). A
   revocation (logout, refresh-token reuse) is written to Redis before it is answered, so every replica sees it on
   its next request.
2. Postgres when Redis does not know the session (after a login on a Redis that restarted, or once the "active"
   entry expired after `session_cache_ttl_s`); the answer is written back to Redis with the token taken in a second
   round trip. An unknown session (a deleted account) is never cached anywhere.
3. This replica's own short cache (`LocalSessionCache`, `session_local_ttl_s`, a few seconds) when Redis is down:
   the API fails open on rate limits, and the local cache keeps Postgres from being asked on every request.

The bound: while Redis is up a revocation reaches every replica at its next request; while Redis is down (or lost
its data) a replica may accept a revoked session's token for at most `session_local_ttl_s` (it then asks Postgres).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from domain.errors import Unauthenticated, Unavailable
from domain.ratelimit import Bucket, BucketResult
from services.ports import Revocations, SessionGate, UnitOfWorkFactory
from services.ratelimits import Limiter, too_many

log = logging.getLogger("stride.sessions")

ACTIVE, REVOKED = "active", "revoked"


class LocalSessionCache:
    """This process's memory of session states, for `ttl_s` each, at most `max_entries` (least recently used go)."""

    def __init__(self, ttl_s: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[tuple[uuid.UUID, uuid.UUID], tuple[bool, float]] = OrderedDict()

    def get(self, user_id: uuid.UUID, session_id: uuid.UUID) -> bool | None:
        """True (active) or False (revoked) if known and fresh, else None."""
        entry = self._entries.get((user_id, session_id))
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._entries[(user_id, session_id)]
            return None
        return entry[0]

    def put(self, user_id: uuid.UUID, session_id: uuid.UUID, active: bool) -> None:
        """Remember a session's state for ttl_s."""
        key = (user_id, session_id)
        self._entries[key] = (active, self.clock() + self.ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget_user(self, user_id: uuid.UUID) -> None:
        """Drop every session of a user (their account is gone)."""
        for key in [k for k in self._entries if k[0] == user_id]:
            del self._entries[key]


def revoked_token() -> Unauthenticated:
    """The 401 for a token whose session is revoked or gone."""
    return Unauthenticated("token revoked", token_given=True)


class SessionGuard:
    """Admits requests of active sessions (taking their rate-limit token) and revokes sessions everywhere."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        gate: SessionGate,
        revocations: Revocations,
        limiter: Limiter,
        cache: LocalSessionCache,
        *,
        active_ttl_s: int,
        revoked_ttl_s: int,
    ) -> None:
        self.uow = uow
        self.gate = gate
        self.revocations = revocations
        self.limiter = limiter
        self.cache = cache
        self.active_ttl_s = active_ttl_s
        self.revoked_ttl_s = revoked_ttl_s

    async def admit(self, user_id: uuid.UUID, session_id: uuid.UUID, bucket: Bucket | None) -> BucketResult | None:
        """Let a request of this session through, taking `bucket`'s token (None: take none, e.g. a re-check):
        Unauthenticated if the session is revoked or gone, RateLimited if the bucket is empty; None for the rate
        when Redis is down (fail open) or no bucket was given."""
        try:
            state, result = await self._check(user_id, session_id, bucket, 0)
        except Unavailable as exc:
            self.limiter.warn_open(exc)
            await self._without_redis(user_id, session_id)
            return None
        if state is None:
            active = await self._stored_state(user_id, session_id)
            if not active:
                if active is False:
                    await self._remember_revoked(user_id, session_id)
                raise revoked_token()
            try:
                state, result = await self._check(user_id, session_id, bucket, self.active_ttl_s)
            except Unavailable as exc:
                self.limiter.warn_open(exc)
                self.cache.put(user_id, session_id, True)
                return None
        if state != ACTIVE:
            self.cache.put(user_id, session_id, False)
            raise revoked_token()
        self.cache.put(user_id, session_id, True)
        if result is not None and not result.allowed:
            raise too_many(result, "requests")
        return result

    async def _check(
        self, user_id: uuid.UUID, session_id: uuid.UUID, bucket: Bucket | None, mark_active_s: int
    ) -> tuple[str | None, BucketResult | None]:
        if bucket is not None:
            return await self.gate.check(user_id, session_id, bucket, mark_active_s=mark_active_s)
        if mark_active_s:
            await self.gate.mark_active(user_id, session_id, mark_active_s)
        return await self.gate.state(user_id, session_id), None

    async def started(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """A login just created this session: record it as active (its first request then needs no Postgres)."""
        self.cache.put(user_id, session_id, True)
        try:
            await self.gate.mark_active(user_id, session_id, self.active_ttl_s)
        except Unavailable as exc:
            log.debug("session %s not marked active in Redis: %s", session_id, exc)

    async def revoke(self, user_id: uuid.UUID, session_id: uuid.UUID | None, reason: str) -> None:
        """After the revocation committed in Postgres: make every replica refuse the session at once (Redis marks
        it revoked) and tell the socket hubs (`stride:revocations`, `session_id` None = every session of the user).
        Best effort: with Redis down, Postgres still has it and replicas see it within session_local_ttl_s."""
        if session_id is None:
            self.cache.forget_user(user_id)
        else:
            self.cache.put(user_id, session_id, False)
        try:
            await self.revocations.revoke(user_id, session_id, reason, self.revoked_ttl_s)
        except Unavailable as exc:
            log.warning("revocation of %s/%s (%s) not announced: %s", user_id, session_id, reason, exc)

    async def is_active(self, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
        """Is the session active? No rate-limit token is taken (for re-checking long-lived connections)."""
        try:
            await self.admit(user_id, session_id, None)
        except Unauthenticated:
            return False
        return True

    async def _without_redis(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        known = self.cache.get(user_id, session_id)
        if known is None:
            active = await self._stored_state(user_id, session_id)
            if active is None:
                raise revoked_token()
            self.cache.put(user_id, session_id, active)
            known = active
        if not known:
            raise revoked_token()

    async def _stored_state(self, user_id: uuid.UUID, session_id: uuid.UUID) -> bool | None:
        async with self.uow() as uow:
            return await uow.sessions.state(session_id, user_id)

    async def _remember_revoked(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        self.cache.put(user_id, session_id, False)
        with contextlib.suppress(Unavailable):  # Postgres has it; the next request asks again
            await self.gate.mark_revoked(user_id, session_id, self.revoked_ttl_s)
