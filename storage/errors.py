"""Storage failures: a backing service that cannot be reached is `Unavailable` (503 + Retry-After upstream)."""

from __future__ import annotations

from domain.errors import Unavailable


class StorageUnavailable(Unavailable):
    """A backing service (postgres, cassandra, redis) cannot be reached: the caller should retry later."""

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(service, detail)
