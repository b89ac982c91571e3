"""Token buckets as values: what a bucket is (key, capacity, refill rate, cost per request) and what taking from it
answered. The atomic take itself runs in Redis (storage/auth_state.py); the policy of when to take and what a
refusal or an outage means is in services (services/ratelimits.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    """A token bucket: `capacity` tokens, refilled at `refill_per_s`; a request costs `cost` tokens."""

    key: str
    capacity: int
    refill_per_s: float
    cost: int = 1

    @property
    def rate(self) -> float:
        """The refill rate Redis is given (never 0: a bucket that never refills would divide by zero)."""
        return max(self.refill_per_s, 1e-6)


@dataclass(frozen=True)
class BucketResult:
    """The outcome of taking tokens from one bucket: whole tokens left, whole seconds rounded up."""

    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int
    reset_s: int

    @classmethod
    def of(cls, allowed: bool, capacity: int, tokens: float, retry_ms: int, reset_ms: int) -> BucketResult:
        """From the bucket's raw state: fractional tokens, milliseconds until retry / until full."""
        return cls(
            allowed=allowed,
            limit=capacity,
            remaining=max(0, math.floor(tokens)),
            retry_after_s=0 if allowed else max(1, math.ceil(retry_ms / 1000)),
            reset_s=math.ceil(reset_ms / 1000),
        )

    def headers(self) -> dict[str, str]:
        """X-RateLimit-* (Reset: seconds until the bucket is full again), plus Retry-After when refused."""
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after_s)
        return out
