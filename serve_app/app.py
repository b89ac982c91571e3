"""The FastAPI ingress and its Ray Serve deployment."""
from __future__ import annotations

import logging

from fastapi import FastAPI
from ray import serve

from config.settings import Settings
from serve_app.errors import install_error_handlers
from serve_app.resources import Resources, set_resources
from serve_app.bodies import BodyLimitGzipMiddleware
from serve_app.ratelimit import RateLimitHeadersMiddleware
from serve_app.routers import activities, auth, devices, health, live, progress, users

API_DESCRIPTION = "Stride: workouts, live tracking, stats and goals. Errors: {\"error\": {code, message, details}}."


def create_app() -> FastAPI:
    """The FastAPI application with every router, error handler and middleware."""
    app = FastAPI(title="Stride API", version="0.1.0", description=API_DESCRIPTION)
    install_error_handlers(app)
    # X-Request-ID: Ray Serve's own RequestIdMiddleware keeps the client's id or makes one, on every response.
    app.add_middleware(BodyLimitGzipMiddleware)
    app.include_router(health.router)
    app.add_middleware(RateLimitHeadersMiddleware)  # X-RateLimit-* computed by the auth dependencies
    app.include_router(users.router)
    app.include_router(auth.router)
    app.include_router(devices.router)
    app.include_router(live.router)
    app.include_router(activities.router)
    app.include_router(progress.router)
    _document_raw_bodies(app)
    return app


def _document_raw_bodies(app: FastAPI) -> None:
    """Routes that parse their JSON body themselves (for speed) still publish its schema in the OpenAPI document."""
    from serve_app.schemas.activities import ActivityCreate

    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = build()
            schema = ActivityCreate.model_json_schema(ref_template="#/components/schemas/{model}")
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            components.update(schema.pop("$defs", {}))
            components["ActivityCreate"] = schema
        return app.openapi_schema

    app.openapi = openapi


fastapi_app = create_app()


@serve.deployment(name="StrideAPI", max_ongoing_requests=64, health_check_period_s=10)
@serve.ingress(fastapi_app)
class StrideAPI:
    """One replica: builds its storage clients and actor handles from settings, in its own process."""

    def __init__(self, settings: Settings) -> None:
        from actors.janitor import get_or_create_janitor
        from actors.dispatcher import get_or_create_dispatcher
        from actors.stats_shard import get_or_create_stats_shards
        from actors.workout_shard import get_or_create_shards

        logging.getLogger("stride").setLevel(logging.INFO)
        actors = {"janitor": get_or_create_janitor(settings), "dispatcher": get_or_create_dispatcher(settings)}
        self.resources = Resources.build(settings, actors, workout_shards=get_or_create_shards(settings),
                                         stats_shards=get_or_create_stats_shards(settings))
        for handle in [*actors.values(), *self.resources.workout_shards, *self.resources.stats_shards]:
            handle.ping.remote()  # starts each actor's background loop without waiting for a /ready probe
        set_resources(self.resources)

    async def __del__(self) -> None:  # pragma: no cover - replica shutdown
        await self.resources.close()


def build_app(settings: Settings) -> serve.Application:
    """The bound Serve application for a settings object."""
    return StrideAPI.options(
        num_replicas=settings.api_replicas, max_ongoing_requests=settings.api_max_ongoing_requests
    ).bind(settings)
