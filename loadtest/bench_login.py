"""Benchmark: argon2id hash and verify with the configured parameters (in process), a few alternatives for comparison,
and POST /auth/login over HTTP when a Stride app answers at --url (known vs unknown email, to show equal timing).

`python -m loadtest.bench_login [--url http://127.0.0.1:8000] [--n 8]` writes loadtest/results/login.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from argon2 import PasswordHasher, Type

from config.settings import Settings
from loadtest.harness import loopback_client, percentile, write_result

PASSWORD = "bench-password-123"
ALTERNATIVES = [(2, 19456, 1), (3, 12288, 1), (1, 47104, 1), (2, 65536, 1)]  # OWASP-style (t, m KiB, p) points


def _stats(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/mean/max of latencies in ms."""
    return {
        "n": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 50), 2),
        "p95_ms": round(percentile(samples_ms, 95), 2),
        "mean_ms": round(statistics.fmean(samples_ms), 2),
        "max_ms": round(max(samples_ms), 2),
    }


def time_argon2(time_cost: int, memory_kib: int, parallelism: int, repeat: int) -> dict[str, Any]:
    """Latency of hash and of verify for one parameter set, one thread."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)
    hashes, verifies, stored = [], [], hasher.hash(PASSWORD)
    for _ in range(repeat):
        started = time.perf_counter()
        hasher.hash(PASSWORD)
        hashes.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        verifies.append((time.perf_counter() - started) * 1000)
    return {
        "time_cost": time_cost,
        "memory_kib": memory_kib,
        "parallelism": parallelism,
        "hash": _stats(hashes),
        "verify": _stats(verifies),
    }


def verify_throughput(time_cost: int, memory_kib: int, parallelism: int, threads: int, total: int) -> float:
    """Verifications per second with `threads` workers (argon2 releases the GIL)."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)
    stored = hasher.hash(PASSWORD)
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: hasher.verify(stored, PASSWORD), range(total)))
    return round(total / (time.perf_counter() - started), 1)


async def _login(client: httpx.AsyncClient, email: str, password: str) -> tuple[int, float]:
    # each login from its own loopback source address (Linux answers all of 127/8), so the per-address login bucket
    # does not throttle the benchmark; the app ignores a client's X-Forwarded-For (it believes only HAProxy's entry)
    source = f"127.{random.randint(64, 127)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    async with httpx.AsyncClient(
        base_url=client.base_url, timeout=client.timeout, transport=httpx.AsyncHTTPTransport(local_address=source)
    ) as one:
        started = time.perf_counter()
        r = await one.post("/auth/login", json={"email": email, "password": password})
        return r.status_code, (time.perf_counter() - started) * 1000


async def time_http_login(base_url: str, n: int) -> dict[str, Any] | None:
    """Sequential logins: right password, wrong password, unknown email; None if no Stride auth API answers."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        try:
            spec = (await client.get("/openapi.json")).json()
        except (httpx.HTTPError, json.JSONDecodeError):
            return None
        if "/auth/login" not in spec.get("paths", {}):
            return None
        cases: dict[str, list[float]] = {"ok": [], "wrong_password": [], "unknown_email": []}
        statuses: dict[str, list[int]] = {k: [] for k in cases}
        for _i in range(n):  # a fresh account per round keeps the per-account bucket out of the way
            email = f"bench-login-{uuid.uuid4().hex[:10]}@example.com"
            async with loopback_client(client) as one:  # registration is rate limited per client address
                r = await one.post("/users", json={"email": email, "password": PASSWORD, "name": "bench"})
            r.raise_for_status()
            for case, (who, pw) in {
                "ok": (email, PASSWORD),
                "wrong_password": (email, "not-the-password"),
                "unknown_email": (f"nobody-{uuid.uuid4().hex}@example.com", PASSWORD),
            }.items():
                code, ms = await _login(client, who, pw)
                statuses[case].append(code)
                if code in (200, 401):
                    cases[case].append(ms)
    return {
        "base_url": base_url,
        "statuses": {k: sorted(set(v)) for k, v in statuses.items()},
        **{k: _stats(v) for k, v in cases.items() if v},
    }


def run(settings: Settings, base_url: str | None, n: int, repeat: int) -> dict[str, Any]:
    """The whole benchmark document."""
    chosen = (settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)
    return {
        "chosen": time_argon2(*chosen, repeat=repeat),
        "verify_per_s_2_threads": verify_throughput(*chosen, threads=2, total=4 * repeat),
        "alternatives": [time_argon2(*alt, repeat=max(5, repeat // 3)) for alt in ALTERNATIVES if alt != chosen],
        "http_login": asyncio.run(time_http_login(base_url, n)) if base_url else None,
    }


def main() -> None:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="Stride base URL ('' to skip HTTP)")
    parser.add_argument("--n", type=int, default=6, help="HTTP login rounds (each: ok, wrong password, unknown)")
    parser.add_argument("--repeat", type=int, default=30, help="in-process hash/verify repetitions")
    args = parser.parse_args()
    result = run(Settings(), args.url or None, args.n, args.repeat)
    path = write_result("login", result)
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
