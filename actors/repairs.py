"""The janitor's jobs, built from settings inside the actor process."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from config.settings import Settings


def build_jobs(settings: Settings) -> dict[str, Callable[[], Awaitable[int]]]:
    """Name -> coroutine function returning the number of items repaired."""
    return {}
