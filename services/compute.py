"""The one way to run CPU-bound work (body parsing, hashing, processing, streams, live finishes) off the event
loop, so a replica or an actor keeps answering while it computes.

Threads, because the heavy parts are numpy (which releases the GIL) and C/Rust parsers; the pool is small
(the cores of the machine) so work queues here instead of oversubscribing the CPU. Created on first use, never
at import.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="stride-cpu")
    return _executor


async def offload(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run fn(*args, **kwargs) in the CPU pool and await its result (exceptions propagate unchanged)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(fn, *args, **kwargs))


async def inline(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """The same signature run on the loop: what unit tests and tiny inputs use."""
    return fn(*args, **kwargs)
