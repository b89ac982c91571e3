"""One settings object for the whole stack (env prefix STRIDE_); built explicitly, never at import."""

from __future__ import annotations

import ipaddress
import os
import warnings

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The JWT secret Stride shipped with before it refused to start without one: public, so never accepted.
PUBLIC_DEV_JWT_SECRET = "dev-only-change-me-" + "0123456789abcdef" * 4
KNOWN_PUBLIC_JWT_SECRETS = frozenset({PUBLIC_DEV_JWT_SECRET, "secret", "changeme", "change-me"})
JWT_SECRET_MIN_LENGTH = 32  # characters; HS256 wants a key of at least 256 bits
PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def _libpq_quote(value: str) -> str:
    """A libpq conninfo value, quoted (spaces, quotes and backslashes in passwords are safe)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Settings(BaseSettings):
    """Every host, port, size and secret Stride reads; the same code runs locally or on a cluster."""

    model_config = SettingsConfigDict(env_prefix="STRIDE_", env_file=None, extra="ignore")

    # PostgreSQL
    pg_host: str = "127.0.0.1"
    pg_port: int = 55432
    pg_user: str = "stride_app"  # least privilege: DML on the app's tables (cluster/postgres.sh, storage/migrate.py)
    pg_password: SecretStr = SecretStr("")  # no default: `make up` generates one (.state/secrets/pg-app-password)
    pg_database: str = "stride"
    pg_sslmode: str = "prefer"  # libpq sslmode; verify-full (with pg_sslrootcert) when Postgres is across a network
    pg_sslrootcert: str | None = None  # CA bundle that signed the server certificate
    pg_migration_user: str = "stride"  # owns the schema; only `python -m storage.migrate` uses it
    pg_migration_password: SecretStr = SecretStr("")
    pg_pool_min: int = 1
    pg_pool_max: int = 10
    pg_connect_timeout_s: float = 2.0

    # Cassandra
    cassandra_hosts: str = "127.0.0.1"  # comma-separated contact points
    cassandra_port: int = 59042
    cassandra_keyspace: str = "stride"
    cassandra_replication_factor: int = 1
    cassandra_local_dc: str = "datacenter1"
    cassandra_write_consistency: str = "LOCAL_ONE"  # LOCAL_QUORUM on a ring with RF=3
    cassandra_read_consistency: str = "LOCAL_ONE"
    cassandra_request_timeout_s: float = 5.0
    # native protocol: v4 measured 15-35 % less driver CPU per insert than v5 (whose checksummed framing the Python
    # driver computes in Python); 5 adds CRC-checked frames (loadtest/README.md, ## Cassandra)
    cassandra_protocol_version: int = Field(4, ge=4, le=5)
    cassandra_username: str = "stride_app"  # PasswordAuthenticator role: SELECT/MODIFY on the keyspace only
    cassandra_password: SecretStr = SecretStr("")
    cassandra_migration_username: str = "stride_owner"  # creates and alters the keyspace (storage/migrate.py)
    cassandra_migration_password: SecretStr = SecretStr("")
    cassandra_ssl: bool = False  # client-to-node TLS
    cassandra_ssl_ca_path: str | None = None  # CA bundle for the nodes' certificates (system CAs if unset)
    cassandra_ssl_check_hostname: bool = True
    sample_bucket_seconds: int = 3600  # one Cassandra partition per activity-hour

    # Redis
    redis_host: str = "127.0.0.1"
    redis_port: int = 56379
    redis_db: int = 0
    redis_timeout_s: float = 1.0  # socket read/write timeout
    redis_connect_timeout_s: float = 0.25  # connect timeout; a down Redis must not cost more per call
    redis_circuit_open_s: float = 1.0  # after a connection failure, skip Redis this long (fail fast, no retries)
    redis_username: str | None = "stride"  # ACL user; None/empty = Redis's `default` user (requirepass)
    redis_password: SecretStr = SecretStr("")
    redis_ssl: bool = False
    redis_ssl_ca_path: str | None = None  # CA bundle for the server certificate (system CAs if unset)
    cache_ttl_s: int = 60
    redis_max_connections: int = Field(64, ge=1)  # a replica's request-path pool (live sockets never take from it)

    # HTTP / Ray
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    ray_address: str = "auto"
    ray_namespace: str = "stride"
    # Serve replicas of the API: one per core of the deploying machine by default (a replica is one Python process,
    # so one core of CPU-bound work at most); with api_max_replicas above it, Serve autoscales between the two
    api_replicas: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    api_max_replicas: int = Field(0, ge=0)  # 0: a fixed number of replicas (api_replicas)
    api_target_ongoing_requests: float = Field(16, gt=0)  # autoscaling target per replica
    api_replica_cpus: float = Field(1.0, ge=0)  # Ray CPUs reserved per replica
    api_max_ongoing_requests: int = 64
    workout_shards: int = 2
    stats_shards: int = 2
    ready_timeout_s: float = 2.0

    # Auth
    jwt_secret: SecretStr = SecretStr("")  # required (>= 32 characters); `make up` generates .state/secrets/jwt-secret
    dev_insecure: bool = (
        False  # STRIDE_DEV_INSECURE=1: accept a missing/short/public JWT secret (local development only)
    )
    jwt_issuer: str = "stride"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    session_cache_ttl_s: int = 60  # how long Redis may answer "this login session is active" without Postgres
    # how long a replica trusts its own memory of a session's state while Redis is down (a logout reaches every
    # replica at its next request while Redis is up; with Redis down, within this bound)
    session_local_ttl_s: float = Field(2.0, gt=0)
    # Socket peers whose X-Forwarded-For is believed (comma-separated addresses or CIDRs; empty = none): the
    # ingress (HAProxy, `option forwardfor`) appends the client address, and the app takes that rightmost entry
    # only when the connection comes from one of these. Default: loopback, where Serve's HAProxy connects from.
    trusted_proxies: str = "127.0.0.1,::1"

    # Rate limits (token buckets: capacity and refill per second)
    rate_api_capacity: int = 600
    rate_api_refill_per_s: float = 10.0
    rate_login_ip_capacity: int = 20
    rate_login_ip_refill_per_s: float = 0.2
    rate_login_account_capacity: int = 10
    rate_login_account_refill_per_s: float = 0.05
    rate_register_ip_capacity: int = 10  # registrations per client address (checked before any argon2 work)
    rate_register_ip_refill_per_s: float = 0.01  # 36 an hour
    rate_register_global_capacity: int = 200  # everyone's registrations: bounds the argon2 work anonymous callers
    rate_register_global_refill_per_s: float = 5.0  # can cause, wherever they come from

    # Activities
    max_points: int = Field(100_000, ge=1)
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024)  # upload routes (POST /activities), raw and decoded
    max_samples_body_bytes: int = Field(1024 * 1024, ge=1024)  # one live sample batch over HTTP
    max_small_body_bytes: int = Field(64 * 1024, ge=1024)  # every other route (login forms included)
    max_ws_message_bytes: int = Field(256 * 1024, ge=1024)  # one WebSocket message
    max_span_s: float = Field(30 * 86400.0, gt=0)  # a point may lie at most this long after its activity's start
    pending_grace_s: float = 600.0  # samples without a committed summary after this long are purged
    janitor_interval_s: float = 5.0

    # Live workouts
    live_idle_finish_s: int = 7200
    live_check_interval_s: float = 10.0
    live_max_points: int = Field(200_000, ge=1)  # points one live workout may hold: the batch past it is 413
    # how a shard writes live rows (storage/sample_writer.py): replica_batches | concurrent | single
    live_sample_writer: str = "replica_batches"
    # WebSockets (WS /ws/activities/{id}/live): their own Serve application, so open sockets never take the request
    # slots HTTP calls need; each replica fans Redis pub/sub out to its sockets over one connection
    live_ws_replicas: int = Field(1, ge=1)
    live_ws_replica_cpus: float = Field(0.0, ge=0)  # Ray CPUs reserved per socket replica (sockets mostly wait)
    live_ws_max_ongoing_requests: int = Field(10_000, ge=1)  # sockets one socket replica holds (mostly idle)
    live_ws_max_per_activity: int = Field(500, ge=1)  # open sockets on one workout, per socket replica
    live_ws_max_per_share: int = Field(200, ge=1)  # follower sockets opened with one share link, per socket replica
    live_ws_max_per_client: int = Field(200, ge=1)  # open sockets from one client address, per socket replica
    live_ws_auth_timeout_s: float = Field(10.0, gt=0)  # an owner must authenticate within this long after connecting
    live_ws_recheck_s: float = Field(30.0, gt=0)  # every socket's token or share link is re-checked this often
    live_ws_send_queue: int = Field(64, ge=1)  # updates queued for a slow socket before the oldest are dropped

    # Stats
    stats_resident_users: int = 20_000  # per shard; others are reloaded from their checkpoint
    dispatch_interval_s: float = 0.2
    dispatch_batch: int = 500
    max_goals_per_user: int = Field(100, ge=1)
    goal_start_within_days: int = Field(5 * 366, ge=1)  # a new goal starts at most this far from today
    goal_max_span_days: int = Field(3653, ge=1)  # end_date at most this long after start_date (10 years)
    progress_max_span_days: int = Field(3653, ge=1)  # GET /progress: from..to at most this long (10 years)
    stats_cache_entries_per_read: int = Field(32, ge=1)  # cached parameter variants per user and read kind

    # Outbox delivery (actors/dispatcher.py, storage/outbox.py)
    outbox_max_attempts: int = Field(15, ge=1)  # then a dead letter (~33 min of backoff with the defaults)
    outbox_backoff_base_s: float = Field(1.0, gt=0)  # wait after the n-th failure: min(max, base * 2^(n-1))
    outbox_backoff_max_s: float = Field(300.0, gt=0)
    outbox_retention_s: float = Field(7 * 86400.0, gt=0)  # delivered events are pruned after this long
    outbox_prune_batch: int = Field(1000, ge=1)

    @field_validator("pg_sslmode")
    @classmethod
    def _known_sslmode(cls, value: str) -> str:
        if value not in PG_SSLMODES:
            raise ValueError(f"STRIDE_PG_SSLMODE must be one of {', '.join(PG_SSLMODES)} (got {value!r})")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _parse_trusted_proxies(cls, value: str) -> str:
        for item in (p.strip() for p in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"STRIDE_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
        return value

    @model_validator(mode="after")
    def _refuse_public_jwt_secret(self) -> Settings:
        secret = self.jwt_secret.get_secret_value()
        if not secret:
            problem = "STRIDE_JWT_SECRET is not set"
        elif secret in KNOWN_PUBLIC_JWT_SECRETS:
            problem = "STRIDE_JWT_SECRET is a publicly known value"
        elif len(secret) < JWT_SECRET_MIN_LENGTH:
            problem = f"STRIDE_JWT_SECRET is too short ({len(secret)} characters, at least {JWT_SECRET_MIN_LENGTH})"
        else:
            return self
        if not self.dev_insecure:
            raise ValueError(
                f"{problem}: anyone could forge access tokens. Set a random secret (`make up` generates one into"
                " .state/secrets/jwt-secret; e.g. `openssl rand -hex 32`), or STRIDE_DEV_INSECURE=1 for local"
                " development only"
            )
        warnings.warn(
            f"{problem}; accepted only because STRIDE_DEV_INSECURE is set (never in production)", stacklevel=2
        )
        if not secret:
            self.jwt_secret = SecretStr(PUBLIC_DEV_JWT_SECRET)
        return self

    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The trusted ingress addresses as networks (a bare address is a /32 or /128)."""
        return [ipaddress.ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",") if p.strip()]

    def cassandra_contact_points(self) -> list[str]:
        """Contact points as a list."""
        return [h.strip() for h in self.cassandra_hosts.split(",") if h.strip()]

    def pg_dsn(self, database: str | None = None, *, owner: bool = False) -> str:
        """libpq connection string: the app's role, or (owner=True) the schema owner used by migrations."""
        user = self.pg_migration_user if owner else self.pg_user
        password = (self.pg_migration_password if owner else self.pg_password).get_secret_value()
        parts = {
            "host": self.pg_host,
            "port": str(self.pg_port),
            "user": user,
            "password": password,
            "dbname": database or self.pg_database,
            "connect_timeout": str(max(1, int(self.pg_connect_timeout_s))),
            "sslmode": self.pg_sslmode,
            "sslrootcert": self.pg_sslrootcert,
        }
        return " ".join(f"{k}={_libpq_quote(v)}" for k, v in parts.items() if v)
