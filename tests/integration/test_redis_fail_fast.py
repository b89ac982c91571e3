"""A Redis that is down costs one quick failed attempt, not redis-py's retries (issue 9, item 17).

The app's client (storage.redis_store.build_redis) must not retry on the request path, and after a connection
failure it skips Redis for `redis_circuit_open_s` instead of paying a connect per call. Asserted by counting real
connection attempts at a socket we control (deterministic: no timing), and once against the real Redis. The e2e
bound (an authenticated read within 100 ms with Redis stopped) is tests/e2e/test_redis_outage.py.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from config.settings import Settings
from storage.redis_store import REDIS_ERRORS, build_redis, circuit_of


class SlammingServer:
    """Accepts TCP connections and closes them at once (a Redis dying under the client); counts accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _calls(client, n: int) -> list[str]:
    errors = []
    for _ in range(n):
        try:
            await client.get("k")
        except REDIS_ERRORS as exc:
            errors.append(type(exc).__name__)
    return errors


def test_refused_connection_is_tried_once_then_the_circuit_skips_redis(settings: Settings) -> None:
    down = settings.model_copy(update={"redis_port": _free_port(), "redis_circuit_open_s": 30.0})

    async def go() -> tuple[list[str], int]:
        client = build_redis(down)
        try:
            return await _calls(client, 20), circuit_of(client).connect_attempts
        finally:
            await client.aclose()

    errors, attempts = asyncio.run(go())
    assert errors == ["ConnectionError"] * 20  # every call fails (the callers fail open or closed)
    assert attempts == 1  # one connection attempt in all, no retry, then the circuit


def test_a_dropped_connection_is_not_retried_and_the_circuit_reopens_after_its_window(settings: Settings) -> None:
    server = SlammingServer()
    flaky = settings.model_copy(update={"redis_port": server.port, "redis_circuit_open_s": 0.5})

    async def go() -> tuple[list[str], int, list[str], int]:
        client = build_redis(flaky)
        try:
            first = await _calls(client, 10)
            accepted_while_open = server.accepted
            await asyncio.sleep(0.6)  # past the circuit's window: exactly one new probe
            second = await _calls(client, 10)
            return first, accepted_while_open, second, server.accepted
        finally:
            await client.aclose()

    try:
        first, accepted_while_open, second, accepted = asyncio.run(go())
    finally:
        server.close()
    assert len(first) == 10 and len(second) == 10
    # redis-py's default Retry (3 retries with backoff) would have connected 4 times for the first call alone
    assert accepted_while_open == 1
    assert accepted == 2


def test_the_real_redis_works_through_the_same_client_and_closes_the_circuit(settings: Settings) -> None:
    async def go() -> tuple[bytes | None, float]:
        client = build_redis(settings)
        try:
            circuit = circuit_of(client)
            circuit.trip()
            with pytest.raises(REDIS_ERRORS):
                await client.get("k")  # open: not even tried
            assert circuit.connect_attempts == 0
            circuit.open_until = time.monotonic() - 1  # window over
            await client.set("fail-fast-probe", b"1", ex=10)
            return await client.get("fail-fast-probe"), circuit.open_until
        finally:
            await client.aclose()

    value, open_until = asyncio.run(go())
    assert value == b"1" and open_until == 0.0
