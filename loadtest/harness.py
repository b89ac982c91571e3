"""Shared benchmark machinery: a closed-loop HTTP generator, result files, and who-uses-the-CPU sampling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
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
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


async def closed_loop(
    make_request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    *,
    base_url: str,
    concurrency: int,
    duration_s: float,
    max_requests: int = 1_000_000,
    ok_statuses: tuple[int, ...] = (200, 201),
) -> dict[str, Any]:
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
        "concurrency": concurrency,
        "duration_s": round(elapsed, 2),
        "requests_ok": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write a benchmark's JSON (with the machine it ran on) to loadtest/results/NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    result = {
        "benchmark": name,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        **result,
    }
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def spread_address(taken: set[str] | None = None) -> str:
    """A random loopback address in 127.64.0.0/10 (Linux answers all of 127/8 without set-up), not in `taken`.
    Registration and login are rate limited per client address (the one HAProxy saw) and live sockets are capped
    per address, so a generator that plays many users spreads them over addresses, as real clients are."""
    import random

    while True:
        source = f"127.{random.randint(64, 127)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        if taken is None or source not in taken:
            if taken is not None:
                taken.add(source)
            return source


def loopback_client(client: httpx.AsyncClient, source: str | None = None) -> httpx.AsyncClient:
    """A one-off client like `client` whose connections leave from loopback address `source` (random by default)."""
    return httpx.AsyncClient(
        base_url=client.base_url,
        timeout=client.timeout,
        transport=httpx.AsyncHTTPTransport(local_address=source or spread_address()),
    )


BENCH_PASSWORD = "bench-password-123"


async def new_account(
    base_url: str, tag: str, *, taken: set[str] | None = None, attempts: int = 8, max_wait_s: float = 30.0
) -> dict[str, Any]:
    """Register a fresh user and log it in, both from one fresh loopback source address; a 429 or 503 is retried
    (from another address, after min(Retry-After, max_wait_s)). Returns {email, password, ip, user_id,
    access_token, refresh_token, expires_in, headers}; the user id is the access token's `sub` (POST /users answers
    202 without one, and asking /users/me would spend an API token)."""
    import uuid

    import jwt

    email = f"bench-{tag}-{uuid.uuid4().hex[:12]}@example.com"
    registered = False
    last = ""
    for _ in range(attempts):
        source = spread_address(taken)
        async with httpx.AsyncClient(
            base_url=base_url, timeout=60, transport=httpx.AsyncHTTPTransport(local_address=source)
        ) as one:
            if not registered:
                r = await one.post("/users", json={"email": email, "password": BENCH_PASSWORD, "name": f"bench {tag}"})
                if r.status_code in (429, 503):
                    last = f"POST /users {r.status_code}"
                    await asyncio.sleep(min(float(r.headers.get("Retry-After", "1")), max_wait_s))
                    continue
                r.raise_for_status()
                registered = True
            r = await one.post("/auth/login", json={"email": email, "password": BENCH_PASSWORD})
            if r.status_code in (429, 503):
                last = f"POST /auth/login {r.status_code}"
                await asyncio.sleep(min(float(r.headers.get("Retry-After", "1")), max_wait_s))
                continue
            r.raise_for_status()
            tokens = r.json()
            user_id = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
            return {
                "email": email,
                "password": BENCH_PASSWORD,
                "ip": source,
                "user_id": user_id,
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "expires_in": float(tokens.get("expires_in") or 900),
                "headers": {"Authorization": f"Bearer {tokens['access_token']}"},
            }
    raise RuntimeError(f"could not register and log in a benchmark user ({last})")


async def register(client: httpx.AsyncClient, tag: str) -> dict[str, str]:
    """A fresh user's bearer header (new_account from a spread loopback address)."""
    return (await new_account(str(client.base_url), tag))["headers"]


# ---------------------------------------------------------------------------------------------- who uses the CPU


def _ours() -> set[int]:
    """Pids of this stack (the services in .state/pids, this Ray session's processes and their children, HAProxy)."""
    import psutil

    root = Path(__file__).resolve().parent.parent
    ray_tmp = os.environ.get("RAY_TMP", "/tmp/stride-ray")
    haproxy_dir = os.environ.get("STRIDE_HAPROXY_DIR", "/tmp/stride-haproxy")
    seeds: set[int] = set()
    for f in (root / ".state" / "pids").glob("*.pid"):
        with contextlib.suppress(Exception):
            seeds.add(int(f.read_text().split()[0]))
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if ray_tmp in cmd or haproxy_dir in cmd:
            seeds.add(p.info["pid"])
    ours = set(seeds)
    for pid in seeds:
        with contextlib.suppress(Exception):
            ours.update(c.pid for c in psutil.Process(pid).children(recursive=True))
    return ours


def _group(proc: Any, ours: set[int]) -> str:
    """A readable name for a process; processes outside this stack are prefixed 'OTHER: '."""
    try:
        name = proc.name()
        cmd = " ".join(proc.cmdline())
    except Exception:  # noqa: BLE001 - the process went away
        return "gone"
    if proc.pid == os.getpid():
        return "load generator (this process)"
    label = name[:40]
    if "java" in name and "cassandra" in cmd.lower():
        label = "cassandra"
    elif "java" in name and "maven" in cmd.lower():
        label = "maven (java)"
    else:
        for key, text in (
            ("StrideLive", "serve socket replica (live WebSockets)"),
            ("ServeReplica", "serve replica (FastAPI app)"),
            ("WorkoutShard", "ray WorkoutShard actors"),
            ("StatsShard", "ray StatsShard actors"),
            ("ProxyActor", "serve proxy"),
            ("ServeController", "serve controller"),
            ("raylet", "raylet"),
            ("gcs_server", "ray gcs"),
            ("haproxy", "haproxy"),
            ("HAProxy", "haproxy manager"),
            ("postgres", "postgres"),
            ("redis", "redis"),
            ("locust", "locust"),
            ("pytest", "pytest"),
        ):
            if key in name or key in cmd:
                label = text
                break
        else:
            if name.startswith("ray::"):
                label = f"ray actor {name[5:40]}"
    return label if proc.pid in ours else f"OTHER: {label}"


async def cpu_sample(seconds: float = 3.0) -> dict[str, Any]:
    """CPU % per process group over `seconds` (100 % = one core), like `top`, plus the whole machine and how much
    of it went to processes outside this stack and this generator (another test session, a build...)."""
    import psutil

    ours = _ours()
    procs = list(psutil.process_iter())
    for p in procs:
        with contextlib.suppress(Exception):
            p.cpu_percent(None)
    psutil.cpu_percent(None)
    await asyncio.sleep(seconds)
    groups: dict[str, float] = {}
    for p in procs:
        try:
            pct = p.cpu_percent(None)
        except Exception:  # noqa: BLE001
            continue
        if pct > 0:
            g = _group(p, ours)
            groups[g] = groups.get(g, 0.0) + pct
    machine = psutil.cpu_percent(None)
    top = sorted(groups.items(), key=lambda kv: -kv[1])[:12]
    other = sum(v for k, v in groups.items() if k.startswith("OTHER: "))
    return {
        "machine_busy_pct": machine,
        "cores": psutil.cpu_count(),
        "other_processes_pct_of_one_core": round(other, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "by_process_pct_of_one_core": {k: round(v, 1) for k, v in top},
    }


async def wait_for_quiet(max_wait_s: float, limit_pct: float = 30.0) -> dict[str, Any]:
    """Wait (up to max_wait_s) until processes outside this stack use under limit_pct of a core: another test session
    or a build on the same small machine would otherwise be measured as server slowness."""
    began = time.monotonic()
    sample: dict[str, Any] = {}
    while True:
        sample = await cpu_sample(2.0)
        waited = time.monotonic() - began
        if sample["other_processes_pct_of_one_core"] < limit_pct or waited >= max_wait_s:
            return {
                "waited_s": round(waited, 1),
                "quiet": sample["other_processes_pct_of_one_core"] < limit_pct,
                "other_processes_pct_of_one_core": sample["other_processes_pct_of_one_core"],
            }
        await asyncio.sleep(3.0)
