"""Redis adapter: an asyncio client built from settings; callers decide whether a failure is fatal.

Redis is optional on the request path (the API fails open without it), so a client built here fails fast: no
retries, a short connect timeout, and a circuit per client: after a connection failure every call fails at once
(no network round trip) for `redis_circuit_open_s`, then one call probes again. With Redis down a request pays
microseconds per Redis call instead of redis-py's default retries (~4 s per call).
"""

from __future__ import annotations

import time
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, ConnectionPool, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry as SyncRetry

from config.settings import Settings
from storage.errors import StorageUnavailable

REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisCircuit:
    """Shared by every connection of one client: open for `open_s` after a failed connect."""

    def __init__(self, open_s: float) -> None:
        self.open_s = open_s
        self.open_until = 0.0
        self.connect_attempts = 0  # every real connection attempt (tests assert that nothing retries)

    def check(self) -> None:
        if time.monotonic() < self.open_until:
            raise RedisConnectionError(
                f"Redis unavailable (a connection failed less than {self.open_s:g} s ago; not retrying yet)"
            )

    def trip(self) -> None:
        self.open_until = time.monotonic() + self.open_s

    def close(self) -> None:
        self.open_until = 0.0


class _CircuitMixin:
    """Connection behaviour: consult the circuit before connecting, trip it when connecting fails."""

    def __init__(self, *args: Any, circuit: RedisCircuit, **kwargs: Any) -> None:
        self._circuit = circuit
        super().__init__(*args, **kwargs)

    async def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        # every path that (re)connects goes through here: the pool's connect() and a command on a dropped socket
        if self.is_connected:  # type: ignore[attr-defined]
            return
        self._circuit.check()
        self._circuit.connect_attempts += 1
        try:
            await super().connect_check_health(*args, **kwargs)  # type: ignore[misc]
        except REDIS_ERRORS:
            self._circuit.trip()
            raise
        self._circuit.close()


class FailFastConnection(_CircuitMixin, Connection):
    """TCP connection with the circuit."""


class FailFastSSLConnection(_CircuitMixin, SSLConnection):
    """TLS connection with the circuit."""


def connection_kwargs(settings: Settings, db: int | None = None) -> dict[str, Any]:
    """Host, credentials, TLS and timeouts for a Redis client (sync or async), from settings."""
    kwargs: dict[str, Any] = {
        "host": settings.redis_host,
        "port": settings.redis_port,
        "db": settings.redis_db if db is None else db,
        "username": settings.redis_username or None,
        "password": settings.redis_password.get_secret_value() or None,
        "socket_timeout": settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_connect_timeout_s,
    }
    if settings.redis_ssl:
        kwargs.update(ssl_cert_reqs="required", ssl_check_hostname=True, ssl_ca_certs=settings.redis_ssl_ca_path)
    return kwargs


def build_redis(settings: Settings, db: int | None = None, *, max_connections: int | None = None) -> aioredis.Redis:
    """A pooled async client that fails fast; it connects on first command, never at construction."""
    kwargs = connection_kwargs(settings, db)
    if settings.redis_ssl:
        kwargs["connection_class"] = FailFastSSLConnection
    else:
        kwargs["connection_class"] = FailFastConnection
    pool = ConnectionPool(
        circuit=RedisCircuit(settings.redis_circuit_open_s),
        retry=Retry(NoBackoff(), 0),  # never retry on the request path
        health_check_interval=10,
        max_connections=max_connections,
        **kwargs,
    )
    return aioredis.Redis(connection_pool=pool, decode_responses=False)


def circuit_of(client: aioredis.Redis) -> RedisCircuit:
    """The circuit of a client made by build_redis."""
    circuit: RedisCircuit = client.connection_pool.connection_kwargs["circuit"]
    return circuit


def build_sync_redis(settings: Settings, db: int | None = None) -> redis.Redis:
    """A blocking client with the same credentials (scripts and tests)."""
    kwargs = connection_kwargs(settings, db)
    ssl_enabled = settings.redis_ssl
    if not ssl_enabled:
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith("ssl_")}
    return redis.Redis(ssl=ssl_enabled, retry=SyncRetry(NoBackoff(), 0), **kwargs)


async def ping(client: aioredis.Redis) -> None:
    """Raise StorageUnavailable unless Redis answers PING."""
    try:
        await client.ping()
    except REDIS_ERRORS as exc:
        raise StorageUnavailable("redis", type(exc).__name__) from exc
