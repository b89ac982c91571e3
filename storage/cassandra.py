"""Cassandra adapter: one driver Cluster/Session per process, prepared statements, asyncio bridging."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

from cassandra import ConsistencyLevel, OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.policies import DCAwareRoundRobinPolicy, ExponentialReconnectionPolicy, TokenAwarePolicy
from cassandra.query import BatchStatement, BatchType

from config.settings import Settings
from storage.errors import StorageUnavailable

UNAVAILABLE_ERRORS = (NoHostAvailable, OperationTimedOut, Unavailable, WriteTimeout, ReadTimeout)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """Client-to-node TLS from settings (None when STRIDE_CASSANDRA_SSL is off): server certificate verified."""
    if not settings.cassandra_ssl:
        return None
    context = ssl.create_default_context(cafile=settings.cassandra_ssl_ca_path)
    context.check_hostname = settings.cassandra_ssl_check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def auth_provider(settings: Settings, *, owner: bool = False) -> PlainTextAuthProvider | None:
    """PasswordAuthenticator credentials: the app's role, or (owner=True) the schema owner used by migrations."""
    username = settings.cassandra_migration_username if owner else settings.cassandra_username
    password = (settings.cassandra_migration_password if owner else settings.cassandra_password).get_secret_value()
    if not username:
        return None
    return PlainTextAuthProvider(username=username, password=password)


def build_cluster(settings: Settings, *, owner: bool = False) -> Cluster:
    """A driver Cluster that reconnects within seconds when a node comes back (authenticated, TLS if configured)."""
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.cassandra_local_dc)),
        consistency_level=ConsistencyLevel.name_to_value[settings.cassandra_write_consistency],
        request_timeout=settings.cassandra_request_timeout_s,
    )
    return Cluster(
        contact_points=settings.cassandra_contact_points(),
        port=settings.cassandra_port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        reconnection_policy=ExponentialReconnectionPolicy(0.5, 4.0),
        protocol_version=settings.cassandra_protocol_version,
        # The driver leaves Nagle on: a request written in two sends (e.g. a 600-point upload chunk) then waits for
        # the node's delayed ACK, ~40 ms per request (loadtest/README.md, ## Cassandra).
        sockopts=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        # No frame compression, explicitly: the driver's default (True) turns lz4 on as soon as the lz4 package is
        # importable. Measured on one box it changed neither CPU nor rows/s; on a cluster it would halve real
        # tracks on the wire (loadtest/README.md, ## Cassandra).
        compression=False,
        auth_provider=auth_provider(settings, owner=owner),
        ssl_context=ssl_context(settings),
        connect_timeout=3,
        control_connection_timeout=3,
        idle_heartbeat_interval=5,
        idle_heartbeat_timeout=5,
    )


class Cassandra:
    """Lazily connected session; every call maps driver failures to StorageUnavailable('cassandra')."""

    def __init__(self, settings: Settings, keyspace: str | None = None) -> None:
        self.settings = settings
        self.keyspace = keyspace or settings.cassandra_keyspace
        self._cluster: Cluster | None = None
        self._session: Session | None = None
        self._prepared: dict[str, Any] = {}

    def session(self) -> Session:
        """The connected session (connecting on first use)."""
        if self._session is None:
            cluster = build_cluster(self.settings)
            try:
                self._session = cluster.connect()
            except UNAVAILABLE_ERRORS as exc:
                cluster.shutdown()
                raise StorageUnavailable("cassandra", type(exc).__name__) from exc
            self._cluster = cluster
        return self._session

    def prepare(self, cql: str) -> Any:
        """A prepared statement for cql, with {keyspace} filled in, cached per process."""
        stmt = self._prepared.get(cql)
        if stmt is None:
            try:
                stmt = self.session().prepare(cql.format(keyspace=self.keyspace))
            except UNAVAILABLE_ERRORS as exc:
                raise StorageUnavailable("cassandra", type(exc).__name__) from exc
            self._prepared[cql] = stmt
        return stmt

    async def execute(self, statement: Any, params: Any = None, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """Run one statement without blocking the event loop; returns the driver's ResultSet."""
        return await self.execute_future(statement, params, timeout)

    def execute_future(self, statement: Any, params: Any = None, timeout: float | None = None) -> asyncio.Future[Any]:
        """Send one statement now (from the event loop's thread) and return an asyncio future of its ResultSet;
        driver failures resolve it with StorageUnavailable('cassandra'). No task is created per request."""
        loop = asyncio.get_running_loop()
        result: asyncio.Future[Any] = loop.create_future()
        try:
            future = self.session().execute_async(
                statement, params, timeout=timeout or self.settings.cassandra_request_timeout_s
            )
        except UNAVAILABLE_ERRORS as exc:
            result.set_exception(StorageUnavailable("cassandra", type(exc).__name__))
            return result

        def ok(rows: Any) -> None:
            loop.call_soon_threadsafe(_resolve, result, future, None)

        def err(exc: BaseException) -> None:
            loop.call_soon_threadsafe(_resolve, result, None, exc)

        future.add_callbacks(ok, err)
        return result

    def primary_replica(self, statement: Any) -> Any:
        """The node the token-aware policy tries first for a bound statement (its partition's first replica in the
        local DC's ring order), or None when its routing key or the token map is unknown."""
        key = getattr(statement, "routing_key", None)
        if key is None:
            return None
        metadata = self.session().cluster.metadata
        if metadata.token_map is None:
            return None
        replicas = metadata.get_replicas(self.keyspace, key)
        return replicas[0] if replicas else None

    @staticmethod
    def unlogged_batch(statements: list[Any]) -> Any:
        """One UNLOGGED batch of bound statements (routed, token-aware, by its first statement's partition)."""
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for statement in statements:
            batch.add(statement)
        return batch

    async def ping(self) -> None:
        """Raise StorageUnavailable unless the cluster answers a query."""
        await self.execute("SELECT release_version FROM system.local", timeout=self.settings.ready_timeout_s)

    def close(self) -> None:
        """Shut the driver down."""
        if self._cluster is not None:
            self._cluster.shutdown()
        self._cluster = self._session = None
        self._prepared.clear()


def _resolve(result: asyncio.Future[Any], future: Any, exc: BaseException | None) -> None:
    if result.done():
        return
    if exc is None:
        # the ResultSet of the first page; our queries are single-page or paged explicitly
        result.set_result(future.result())
    elif isinstance(exc, UNAVAILABLE_ERRORS):
        result.set_exception(StorageUnavailable("cassandra", type(exc).__name__))
    else:
        result.set_exception(exc)
