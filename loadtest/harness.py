"""A closed-loop HTTP load generator: N concurrent clients, each sending its next request when the last returns."""
from __future__ import annotations

import asyncio
import json
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).parent / "results"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


async def closed_loop(make_request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]], *,
                      base_url: str, concurrency: int, duration_s: float, max_requests: int = 1_000_000,
                      ok_statuses: tuple[int, ...] = (200, 201)) -> dict[str, Any]:
    """Run `concurrency` clients for `duration_s` (bounded by max_requests); latency stats in ms."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    deadline = time.monotonic() + duration_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient, wid: int) -> None:
        nonlocal sent
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            started = time.perf_counter()
            try:
                r = await make_request(client, sent)
                code = str(r.status_code)
            except httpx.HTTPError as exc:
                code = type(exc).__name__
            if code in {str(s) for s in ok_statuses}:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors[code] = errors.get(code, 0) + 1

    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        began = time.monotonic()
        await asyncio.gather(*(worker(client, i) for i in range(concurrency)))
        elapsed = time.monotonic() - began
    return {
        "concurrency": concurrency, "duration_s": round(elapsed, 2), "requests_ok": len(latencies), "errors": errors,
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write a benchmark's JSON (with the machine it ran on) to loadtest/results/NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    result = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()}, **result}
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


async def register(client: httpx.AsyncClient, tag: str) -> dict[str, str]:
    """A fresh user and its bearer header."""
    import uuid

    email = f"bench-{tag}-{uuid.uuid4().hex[:10]}@example.com"
    password = "bench-password-123"
    r = await client.post("/users", json={"email": email, "password": password, "name": f"bench {tag}"})
    r.raise_for_status()
    token = (await client.post("/auth/login", json={"email": email, "password": password})).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}
