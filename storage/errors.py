"""Storage failures the HTTP layer maps to status codes (one exception-handler module does the mapping)."""
from __future__ import annotations


class StorageUnavailable(Exception):
    """A backing service (postgres, cassandra, redis) cannot be reached: the caller should retry later."""

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(f"{service} unavailable: {detail}" if detail else f"{service} unavailable")
        self.service = service
        self.detail = detail
