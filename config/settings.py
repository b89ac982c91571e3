"""One settings object for the whole stack (env prefix STRIDE_); built explicitly, never at import."""
from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every host, port, size and secret Stride reads; the same code runs locally or on a cluster."""

    model_config = SettingsConfigDict(env_prefix="STRIDE_", env_file=None, extra="ignore")

    # PostgreSQL
    pg_host: str = "127.0.0.1"
    pg_port: int = 55432
    pg_user: str = "stride"
    pg_password: SecretStr = SecretStr("stride")
    pg_database: str = "stride"
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
    sample_bucket_seconds: int = 3600  # one Cassandra partition per activity-hour

    # Redis
    redis_host: str = "127.0.0.1"
    redis_port: int = 56379
    redis_db: int = 0
    redis_timeout_s: float = 1.0
    cache_ttl_s: int = 60

    # HTTP / Ray
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    ray_address: str = "auto"
    ray_namespace: str = "stride"
    api_replicas: int = 1
    api_max_ongoing_requests: int = 64
    workout_shards: int = 2
    stats_shards: int = 2
    ready_timeout_s: float = 2.0

    # Auth
    jwt_secret: SecretStr = SecretStr("dev-only-change-me-" + "0123456789abcdef" * 4)  # set STRIDE_JWT_SECRET in production
    jwt_issuer: str = "stride"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    session_cache_ttl_s: int = 60  # how long Redis may answer "this login session is active" without Postgres
    trust_forwarded_for: bool = False  # take the client IP from X-Forwarded-For (only behind a proxy that sets it)
    forwarded_for_hops: int = Field(1, ge=1)  # trusted proxies appending to X-Forwarded-For: client = n-th from right

    # Rate limits (token buckets: capacity and refill per second)
    rate_api_capacity: int = 600
    rate_api_refill_per_s: float = 10.0
    rate_login_ip_capacity: int = 20
    rate_login_ip_refill_per_s: float = 0.2
    rate_login_account_capacity: int = 10
    rate_login_account_refill_per_s: float = 0.05

    # Activities
    max_points: int = Field(100_000, ge=1)
    max_body_bytes: int = 64 * 1024 * 1024
    pending_grace_s: float = 600.0  # samples without a committed summary after this long are purged
    janitor_interval_s: float = 5.0

    # Live workouts
    live_idle_finish_s: int = 7200
    live_check_interval_s: float = 10.0

    # Stats
    stats_resident_users: int = 20_000  # per shard; others are reloaded from their checkpoint
    dispatch_interval_s: float = 0.2
    dispatch_batch: int = 500

    def cassandra_contact_points(self) -> list[str]:
        """Contact points as a list."""
        return [h.strip() for h in self.cassandra_hosts.split(",") if h.strip()]

    def pg_dsn(self, database: str | None = None) -> str:
        """libpq connection string."""
        return (
            f"host={self.pg_host} port={self.pg_port} user={self.pg_user} "
            f"password={self.pg_password.get_secret_value()} dbname={database or self.pg_database} "
            f"connect_timeout={max(1, int(self.pg_connect_timeout_s))}"
        )
