"""Rate-limit policy: which buckets a use case takes from, and what an empty bucket or a Redis outage means.

| buckets | taken by | Redis down |
|---|---|---|
| `u:{uid}:rl:api` (per user) | every authenticated request, refresh, socket messages | fail open (pass, warn) |
| `rl:login:ip:{ip}` + `rl:login:acct:{sha256(email key)}` | login | fail closed (503) |
| `rl:register:ip:{ip}` + `rl:register:all` | registration (before any argon2 work) | fail closed (503) |

Several buckets of one use case are taken atomically, all or nothing, in one Redis round trip. The API bucket key
lives under the user's `u:{uid}:` prefix so account erasure removes it; no email is ever part of a key.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain.accounts import email_digest
from domain.errors import RateLimited, Unavailable
from domain.ratelimit import Bucket, BucketResult
from services.ports import RateLimiter

log = logging.getLogger("stride.ratelimit")

_WARN_EVERY_S = 10.0


@dataclass(frozen=True)
class Rate:
    """A bucket's size and refill rate."""

    capacity: int
    refill_per_s: float


@dataclass(frozen=True)
class RateLimits:
    """Every bucket size (from settings: STRIDE_RATE_*)."""

    api: Rate = Rate(600, 10.0)
    login_ip: Rate = Rate(20, 0.2)
    login_account: Rate = Rate(10, 0.05)
    register_ip: Rate = Rate(10, 0.01)
    register_global: Rate = Rate(200, 5.0)


def api_bucket(limits: RateLimits, user_id: uuid.UUID, cost: int = 1) -> Bucket:
    """The per-user API bucket (under the user's erasable prefix)."""
    return Bucket(f"u:{user_id}:rl:api", limits.api.capacity, limits.api.refill_per_s, cost)


def login_account_key(email: str) -> str:
    """The per-account login bucket: named by the digest of the email's comparison form (never the email)."""
    return f"rl:login:acct:{email_digest(email)}"


def login_buckets(limits: RateLimits, client_ip: str, email: str) -> list[Bucket]:
    """Per client address and per account (any spelling of the email is the same account)."""
    return [
        Bucket(f"rl:login:ip:{client_ip}", limits.login_ip.capacity, limits.login_ip.refill_per_s),
        Bucket(login_account_key(email), limits.login_account.capacity, limits.login_account.refill_per_s),
    ]


def register_buckets(limits: RateLimits, client_ip: str) -> list[Bucket]:
    """Per client address, and one for everyone (bounds the argon2 work anonymous callers can cause)."""
    return [
        Bucket(f"rl:register:ip:{client_ip}", limits.register_ip.capacity, limits.register_ip.refill_per_s),
        Bucket("rl:register:all", limits.register_global.capacity, limits.register_global.refill_per_s),
    ]


def too_many(result: BucketResult, what: str) -> RateLimited:
    """The error for an empty bucket (X-RateLimit-* and Retry-After ride along as headers)."""
    return RateLimited(
        f"too many {what}, retry in {result.retry_after_s} s",
        retry_after_s=result.retry_after_s,
        headers=result.headers(),
        details={"retry_after_s": result.retry_after_s, "limit": result.limit},
    )


class Limiter:
    """Takes tokens through the RateLimiter port and applies the policy above."""

    def __init__(self, port: RateLimiter) -> None:
        self.port = port
        self._last_warning = 0.0

    async def require(self, buckets: Sequence[Bucket], what: Sequence[str], *, refused: str) -> BucketResult:
        """Take from every bucket (fail closed): RateLimited naming `what[i]` of the first empty bucket;
        Unavailable('redis', message=`refused`) when Redis does not answer. Returns the last bucket's answer."""
        try:
            results = await self.port.take(buckets)
        except Unavailable as exc:
            log.warning("rate limiter unavailable (%s): refusing (fail closed)", exc)
            raise Unavailable("redis", exc.detail, message=refused) from exc
        for result, name in zip(results, what, strict=True):
            if not result.allowed:
                raise too_many(result, name)
        return results[-1]

    async def charge(self, bucket: Bucket, what: str = "requests") -> BucketResult | None:
        """Take from one bucket (fail open): RateLimited when empty; None (and a throttled warning) when Redis
        does not answer, so an outage of Redis never takes the API down."""
        try:
            (result,) = await self.port.take([bucket])
        except Unavailable as exc:
            self.warn_open(exc)
            return None
        if not result.allowed:
            raise too_many(result, what)
        return result

    def warn_open(self, exc: Exception) -> None:
        """Log, at most every 10 s, that requests pass without a rate limit."""
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            log.warning("rate limiter unavailable (%s): API requests pass unlimited (fail open)", exc)
