"""The FastAPI ingress and its Ray Serve deployment."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from ray import serve

from actors.topology import Topology, lookup
from config.settings import Settings
from serve_app.bodies import RequestBodyMiddleware
from serve_app.errors import install_error_handlers
from serve_app.ratelimit import RateLimitHeadersMiddleware
from serve_app.resources import Resources, set_resources
from serve_app.routers import activities, auth, devices, health, live, progress, users

API_DESCRIPTION = 'Stride: workouts, live tracking, stats and goals. Errors: {"error": {code, message, details}}.'


def create_app() -> FastAPI:
    """The FastAPI application with every router, error handler and middleware."""
    app = FastAPI(title="Stride API", version="0.1.0", description=API_DESCRIPTION)
    install_error_handlers(app)
    # X-Request-ID: Ray Serve's own RequestIdMiddleware keeps the client's id or makes one, on every response.
    app.add_middleware(RateLimitHeadersMiddleware)  # X-RateLimit-* computed by the auth dependencies
    app.add_middleware(RequestBodyMiddleware)  # outermost: caps and decodes bodies before anything reads them
    for module in (health, users, auth, devices, live, activities, progress):
        app.include_router(module.router)
    _document_msgspec_bodies(app)
    return app


def _document_msgspec_bodies(app: FastAPI) -> None:
    """Routes that decode their body with msgspec still publish its schema in the OpenAPI document."""
    from serve_app.schemas.samples import openapi_components

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            spec.setdefault("components", {}).setdefault("schemas", {}).update(openapi_components())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def create_socket_app() -> FastAPI:
    """The WebSocket application (served under SOCKET_ROUTE_PREFIX): the live workout sockets only."""
    app = FastAPI(title="Stride live sockets", openapi_url=None, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.add_middleware(RequestBodyMiddleware)  # WebSocket messages over max_ws_message_bytes close with 1009
    app.include_router(live.socket_router)
    return app


fastapi_app = create_app()
socket_app = create_socket_app()
SOCKET_ROUTE_PREFIX = "/ws"


class _Replica:
    """What every replica does: build its storage clients from settings and look the deployed actors up by name."""

    def __init__(self, settings: Settings, topology: Topology) -> None:
        logging.getLogger("stride").setLevel(logging.INFO)
        self.resources = Resources.build(settings, lookup(topology))
        set_resources(self.resources)

    async def __del__(self) -> None:  # pragma: no cover - replica shutdown
        await self.resources.close()


@serve.deployment(name="StrideAPI", max_ongoing_requests=64, health_check_period_s=10)
@serve.ingress(fastapi_app)
class StrideAPI(_Replica):
    """An HTTP replica (the app at /)."""


@serve.deployment(name="StrideLive", health_check_period_s=10)
@serve.ingress(socket_app)
class StrideLive(_Replica):
    """A socket replica. An open WebSocket holds one of its replica's request slots for its whole life, so sockets
    get their own Serve application (route prefix /ws), with many slots (`live_ws_max_ongoing_requests`: sockets
    mostly wait) and their own replicas: HTTP calls never queue behind open sockets. Each replica fans live updates
    out to its sockets through one Redis pub/sub connection (serve_app.live_hub)."""


def build_socket_app(settings: Settings, topology: Topology | None = None) -> serve.Application:
    """The bound Serve application of the live sockets (deployed at SOCKET_ROUTE_PREFIX next to build_app's)."""
    return StrideLive.options(  # type: ignore[attr-defined,no-any-return]
        num_replicas=settings.live_ws_replicas,
        max_ongoing_requests=settings.live_ws_max_ongoing_requests,
        ray_actor_options={"num_cpus": settings.live_ws_replica_cpus},
    ).bind(settings, topology or Topology.for_settings(settings))


def build_app(settings: Settings, topology: Topology | None = None) -> serve.Application:
    """The bound Serve application for a settings object and an actor topology (default: the one the settings
    and this code imply, which `python -m actors.topology` or `serve_app.deploy` creates)."""
    scaling: dict[str, Any] = {"num_replicas": settings.api_replicas}
    if settings.api_max_replicas > settings.api_replicas:
        scaling = {
            "autoscaling_config": {
                "min_replicas": settings.api_replicas,
                "max_replicas": settings.api_max_replicas,
                "target_ongoing_requests": settings.api_target_ongoing_requests,
            }
        }
    return StrideAPI.options(  # type: ignore[attr-defined,no-any-return]
        max_ongoing_requests=settings.api_max_ongoing_requests,
        ray_actor_options={"num_cpus": settings.api_replica_cpus},
        **scaling,
    ).bind(settings, topology or Topology.for_settings(settings))
