"""What authentication costs one request, measured in process: Redis commands and latency of `GET /users/me`.

The app runs in this process (FastAPI over httpx's ASGI transport: no HAProxy, no Serve, no network hop) against
the configured Postgres and a private `redis-server` this script starts on a free loopback port, so the Redis
commands counted (MONITOR, top-level only: commands a Lua script runs inside itself are not round trips) are the
app's and nobody else's. Reported: Redis round trips per authenticated request, and per-request latency (p50, p90,
p99, mean) and in-process CPU over N sequential requests of `GET /auth/whoami` (authentication only: no Postgres for
an access token) and `GET /users/me` (plus one Postgres read), next to an unauthenticated `GET /health` through the
same app (the same-run reference). The auth overhead is whoami's p50 minus health's.

    .venv/bin/python -m loadtest.bench_auth [--requests 2000] [--database stride_test] [--name auth_request]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import redis

from config.settings import Settings

PASSWORD = "bench-password-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def private_redis() -> Iterator[int]:
    """A throwaway redis-server on a free loopback port (no persistence, no auth); stopped by its PID."""
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="stride-bench-redis-")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


class CommandCounter:
    """Counts the top-level commands Redis receives (MONITOR; a script's own calls are not round trips)."""

    def __init__(self, port: int) -> None:
        self.client = redis.Redis(port=port)
        self.marker = redis.Redis(port=port)
        self.marker.ping()  # its connection handshake happens before counting starts
        self.commands: list[str] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.client.monitor() as monitor:
            self._ready.set()
            while not self._stop.is_set():
                cmd = monitor.next_command()
                if cmd.get("client_type") != "lua" and "stride-bench-marker" not in cmd["command"]:
                    self.commands.append(cmd["command"].split(" ")[0].upper())

    def __enter__(self) -> CommandCounter:
        self._thread.start()
        self._ready.wait(5)
        time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        time.sleep(0.1)
        self.marker.get("stride-bench-marker")  # wakes the monitor so it sees the stop flag
        self._thread.join(5)


def _stats(latencies_ms: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies_ms)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 3)

    return {
        "n": len(ordered),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


async def _timed(client: httpx.AsyncClient, path: str, n: int, headers: dict[str, str] | None = None) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        r = await client.get(path, headers=headers)
        out.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.text
    return out


async def _run(settings: Settings, requests: int, redis_port: int) -> dict[str, Any]:
    from serve_app.app import create_app
    from serve_app.resources import Resources, set_resources

    resources = Resources.build(settings)
    set_resources(resources)
    app = create_app()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            email = f"bench-auth-{uuid.uuid4().hex[:10]}@example.com"
            r = await client.post("/users", json={"email": email, "password": PASSWORD, "name": "bench"})
            assert r.status_code in (201, 202), r.text
            r = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert r.status_code == 200, r.text
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            await _timed(client, "/users/me", 50, headers)  # warm: scripts loaded, session state cached
            await _timed(client, "/health", 50)
            with CommandCounter(redis_port) as counter:
                await _timed(client, "/users/me", 20, headers)
            per_request = len(counter.commands) / 20
            results = {}
            for name, path, hdrs in (
                ("get_health_reference", "/health", None),
                ("get_whoami", "/auth/whoami", headers),
                ("get_users_me", "/users/me", headers),
            ):
                cpu = time.process_time()
                results[name] = _stats(await _timed(client, path, requests, hdrs))
                results[name]["cpu_ms_per_request"] = round((time.process_time() - cpu) * 1000 / requests, 3)
    finally:
        set_resources(None)
        await resources.close()
    return {
        "redis_round_trips_per_request": per_request,
        "redis_commands_seen": sorted(set(counter.commands)),
        **results,
        "auth_overhead_p50_ms": round(results["get_whoami"]["p50_ms"] - results["get_health_reference"]["p50_ms"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database", default="stride_test")
    parser.add_argument("--name", default="auth_request")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with private_redis() as port:
        settings = Settings(
            pg_database=args.database,
            redis_port=port,
            redis_username=None,
            redis_password="",
            rate_api_capacity=10 * args.requests,
            rate_api_refill_per_s=1000.0,
        )
        result = {
            "requests": args.requests,
            "database": args.database,
            **asyncio.run(_run(settings, args.requests, port)),
        }
    import json

    print(json.dumps(result, indent=2))
    if not args.no_write:
        from loadtest.harness import write_result

        print(write_result(args.name, result))


if __name__ == "__main__":
    main()
