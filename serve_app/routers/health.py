"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serve_app.deps import Res
from serve_app.errors import RETRY_AFTER_S
from storage.redis_store import ping as redis_ping

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive (no dependency is checked)."""
    return {"status": "ok"}


async def _check(coro: Any, limit_s: float) -> str:
    try:
        await asyncio.wait_for(coro, limit_s)
        return "ok"
    except TimeoutError:
        return "error: timeout"
    except Exception as exc:  # noqa: BLE001 - the check reports any failure by name
        return f"error: {getattr(exc, 'detail', '') or type(exc).__name__}"


@router.get("/ready", responses={503: {"description": "a dependency is down"}})
async def ready(res: Res) -> JSONResponse:
    """200 when Postgres, Cassandra, Redis and the actors all answer; 503 naming the failing ones."""
    timeout = res.settings.ready_timeout_s
    names = ("postgres", "cassandra", "redis", "actors")
    results = await asyncio.gather(
        _check(res.pg.ping(), timeout),
        _check(res.cassandra.ping(), timeout),
        _check(redis_ping(res.redis), timeout),
        _check(res.check_actors(), timeout + 0.5),
    )
    checks = dict(zip(names, results, strict=False))
    failing = [n for n, r in checks.items() if r != "ok"]
    if not failing:
        return JSONResponse({"status": "ok", "checks": checks})
    body = {
        "status": "unavailable",
        "checks": checks,
        "error": {
            "code": "service_unavailable",
            "message": f"unavailable: {', '.join(failing)}",
            "details": {"failing": failing},
        },
    }
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})
