"""The composition root of one Serve replica: storage clients, actor gateways and the services built on them.

Built from settings and the deployed actor topology inside the replica's process; nothing connects until first
used. Routers never reach past this into storage: they get a service through `serve_app.deps`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from actors.gateway import StatsShardsGateway, WorkoutShardsGateway
from actors.topology import Handles
from config.settings import Settings
from serve_app.live_hub import LiveHub
from services.accounts import AccountService
from services.activities import ActivityService, Limits
from services.auth import AuthService
from services.erasure import ErasureService
from services.live import LiveLimits, LiveService
from services.passwords import Passwords
from services.progress import ProgressLimits, ProgressService
from services.ratelimits import Limiter, Rate, RateLimits
from services.sessions import LocalSessionCache, SessionGuard
from services.tokens import AccessTokens
from storage.auth_state import RedisAuthState
from storage.cassandra import Cassandra
from storage.errors import StorageUnavailable
from storage.live_feed import RedisLiveFeed, RedisSubscriber
from storage.postgres import Postgres
from storage.purges import PurgeQueue
from storage.redis_store import build_redis
from storage.samples import SampleStore
from storage.stats_cache import RedisStatsCache
from storage.uow import PostgresUnitOfWork


@dataclass
class Resources:
    """Per-replica clients, gateways and services."""

    settings: Settings
    pg: Postgres
    cassandra: Cassandra
    redis: Any
    handles: Handles | None = None
    actors: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, handles: Handles | None = None) -> Resources:
        """Construct clients from settings (no network I/O)."""
        actors = {"dispatcher": handles.dispatcher, "janitor": handles.janitor} if handles else {}
        return cls(
            settings=settings,
            pg=Postgres(settings),
            cassandra=Cassandra(settings),
            redis=build_redis(settings, max_connections=settings.redis_max_connections),
            handles=handles,
            actors=actors,
        )

    # ------------------------------------------------------------------ adapters

    def uow(self, *, read_only: bool = False) -> PostgresUnitOfWork:
        """A new unit of work (one Postgres transaction; a read-only one runs without)."""
        return PostgresUnitOfWork(self.pg, read_only=read_only)

    @cached_property
    def samples(self) -> SampleStore:
        return SampleStore(self.cassandra, self.settings.sample_bucket_seconds)

    @cached_property
    def purges(self) -> PurgeQueue:
        return PurgeQueue(self.pg, self.cassandra)

    @cached_property
    def workouts(self) -> WorkoutShardsGateway:
        return WorkoutShardsGateway(self.handles.workout_shards if self.handles else [])

    @cached_property
    def live_feed(self) -> RedisLiveFeed:
        return RedisLiveFeed(self.redis)

    @cached_property
    def live_hub(self) -> LiveHub:
        """This replica's socket hub: one pub/sub connection of its own (never the request-path pool)."""
        from serve_app.routers.live import recheck_socket

        subscriber = RedisSubscriber(build_redis(self.settings, max_connections=2))
        return LiveHub(self.settings, subscriber, recheck_socket)

    @cached_property
    def stats(self) -> StatsShardsGateway:
        return StatsShardsGateway(self.handles.stats_shards if self.handles else [])

    @cached_property
    def stats_cache(self) -> RedisStatsCache:
        return RedisStatsCache(self.redis, self.settings.cache_ttl_s, self.settings.stats_cache_entries_per_read)

    @cached_property
    def auth_state(self) -> RedisAuthState:
        """Session states, token buckets, revocations and user keys in Redis (the request-path pool)."""
        return RedisAuthState(self.redis)

    # ------------------------------------------------------------------ services

    @cached_property
    def rate_limits(self) -> RateLimits:
        s = self.settings
        return RateLimits(
            api=Rate(s.rate_api_capacity, s.rate_api_refill_per_s),
            login_ip=Rate(s.rate_login_ip_capacity, s.rate_login_ip_refill_per_s),
            login_account=Rate(s.rate_login_account_capacity, s.rate_login_account_refill_per_s),
            register_ip=Rate(s.rate_register_ip_capacity, s.rate_register_ip_refill_per_s),
            register_global=Rate(s.rate_register_global_capacity, s.rate_register_global_refill_per_s),
        )

    @cached_property
    def passwords(self) -> Passwords:
        s = self.settings
        return Passwords(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism)

    @cached_property
    def limiter(self) -> Limiter:
        return Limiter(self.auth_state)

    @cached_property
    def session_guard(self) -> SessionGuard:
        s = self.settings
        return SessionGuard(
            self.uow,
            self.auth_state,
            self.auth_state,
            self.limiter,
            LocalSessionCache(s.session_local_ttl_s),
            active_ttl_s=s.session_cache_ttl_s,
            revoked_ttl_s=s.access_token_ttl_s + 60,
        )

    @cached_property
    def auth(self) -> AuthService:
        s = self.settings
        tokens = AccessTokens(s.jwt_secret.get_secret_value(), s.jwt_issuer, s.access_token_ttl_s)
        return AuthService(
            self.uow, self.passwords, tokens, self.session_guard, self.limiter, self.rate_limits, s.refresh_token_ttl_s
        )

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(self.uow, self.passwords, self.limiter, self.rate_limits)

    @cached_property
    def erasure(self) -> ErasureService:
        return ErasureService(self.uow, self.workouts, self.purges, self.auth_state, self.session_guard)

    @cached_property
    def live(self) -> LiveService:
        limits = LiveLimits(max_span_s=self.settings.max_span_s, max_points=self.settings.live_max_points)
        return LiveService(self.uow, self.workouts, self.live_feed, limits)

    @cached_property
    def activities(self) -> ActivityService:
        limits = Limits(max_points=self.settings.max_points, max_span_s=self.settings.max_span_s)
        return ActivityService(self.uow, self.samples, self.purges, self.workouts, limits, cache=self.stats_cache)

    @cached_property
    def progress(self) -> ProgressService:
        s = self.settings
        limits = ProgressLimits(
            max_goals_per_user=s.max_goals_per_user,
            goal_start_within_days=s.goal_start_within_days,
            goal_max_span_days=s.goal_max_span_days,
            progress_max_span_days=s.progress_max_span_days,
        )
        return ProgressService(self.uow, self.stats, self.stats_cache, limits)

    # ------------------------------------------------------------------ legacy accessors (until every area is moved)

    @property
    def workout_shards(self) -> list[Any]:
        return self.workouts.handles

    @property
    def stats_shards(self) -> list[Any]:
        return self.stats.handles

    # ------------------------------------------------------------------ health

    async def check_actors(self) -> None:
        """Every actor the replica depends on answers a ping (all pinged at once)."""
        from actors.gateway import call

        timeout = self.settings.ready_timeout_s
        results = await asyncio.gather(
            self.workouts.ping_all(timeout),
            self.stats.ping_all(timeout),
            *(call(h, "ping", timeout_s=timeout, what=name) for name, h in self.actors.items()),
            return_exceptions=True,
        )
        failed = [str(getattr(r, "service", type(r).__name__)) for r in results if isinstance(r, BaseException)]
        if failed:
            raise StorageUnavailable("actors", ", ".join(failed))

    async def close(self) -> None:
        """Release every client."""
        if "live_hub" in self.__dict__:
            await self.live_hub.close()
        await self.pg.close()
        self.cassandra.close()
        await self.redis.aclose()


_current: Resources | None = None


def set_resources(resources: Resources | None) -> None:
    """Install this process's Resources (called by the replica constructor)."""
    global _current
    _current = resources


def get_resources() -> Resources:
    """This process's Resources."""
    if _current is None:
        raise RuntimeError("Resources not initialised in this process")
    return _current
