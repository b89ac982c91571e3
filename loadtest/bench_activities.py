"""Benchmark: POST /activities with 3,600 points (as `data_points`, and as columnar `streams`) at 20 connections,
next to the no-op `GET /health` through the same ingress in the same run, both driven by `wrk` (C) so the generator
costs little; plus `process_activity` CPU on 3,600 points. Targets (issue 11): >= 60 uploads/s with p99 <= 1 s."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import httpx

from domain.bench import time_process
from loadtest import wrk
from loadtest.harness import cpu_sample, register, wait_for_quiet, write_result
from loadtest.synthetic import straight_ride, upload_body

TARGET_RPS, TARGET_P99_MS = 60.0, 1000.0


def bodies() -> dict[str, bytes]:
    """The two wire forms of the same 3,600-point ride (no client id: every request is a new activity)."""
    points = straight_ride(seconds=3600)
    body = upload_body(points, sport="cycling")
    keys = ("time", "lat", "lng", "altitude", "heart_rate", "cadence", "power", "speed")
    columnar = {k: v for k, v in body.items() if k != "data_points"}
    columnar["streams"] = {k: [p.get(k) for p in points] for k in keys}
    return {"data_points": json.dumps(body).encode(), "streams": json.dumps(columnar).encode()}


async def measured(
    base_url: str,
    requests: list[wrk.Request],
    *,
    concurrency: int,
    duration_s: float,
    ok_statuses: tuple[int, ...] = (200,),
    timeout_s: float = 10,
) -> dict[str, Any]:
    """One wrk run, with a sample of who uses the CPU taken in its middle."""
    task = asyncio.create_task(
        asyncio.to_thread(
            wrk.run,
            base_url,
            requests,
            concurrency=concurrency,
            duration_s=duration_s,
            ok_statuses=ok_statuses,
            timeout_s=timeout_s,
        )
    )
    await asyncio.sleep(duration_s / 2)
    cpu = await cpu_sample(3.0)
    return {**await task, "cpu_mid_run": cpu}


async def run(base_url: str, concurrency: int, duration_s: float, quiet_wait_s: float) -> dict[str, Any]:
    """Measure the reference and the uploads; returns the result document."""
    processing = time_process(n=3600, repeat=50)
    quiet = await wait_for_quiet(quiet_wait_s) if quiet_wait_s > 0 else None
    noop = await measured(base_url, [("/health", {})], concurrency=concurrency, duration_s=duration_s)
    # one athlete per connection: each stays inside the per-user API rate limit (600 burst, 10/s), as real
    # uploads from many phones do; a 429 would be a cheap answer counted as an upload
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as c:
        athletes = [await register(c, "uploads") for _ in range(concurrency)]
    uploads: dict[str, Any] = {}
    for form, raw in bodies().items():
        result = await measured(
            base_url,
            [("POST", "/activities", {**h, "Content-Type": "application/json"}, raw) for h in athletes],
            concurrency=concurrency,
            duration_s=duration_s,
            ok_statuses=(201,),
            timeout_s=30,
        )
        uploads[form] = {
            **result,
            "body_bytes": len(raw),
            "points_per_s": round(result["requests_per_s"] * 3600),
            "vs_noop_throughput_ratio": round(result["requests_per_s"] / noop["requests_per_s"], 4),
            "meets_target": result["requests_per_s"] >= TARGET_RPS
            and result["p99_ms"] <= TARGET_P99_MS
            and result["non_2xx"] == 0,
        }
    return {
        "processing_3600_points": processing,
        "quiet_before": quiet,
        "noop_health": noop,
        "upload_3600_points": uploads,
        "targets": {"requests_per_s": TARGET_RPS, "p99_ms": TARGET_P99_MS},
    }


def main() -> None:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to this long for other load to stop")
    args, _ = parser.parse_known_args()
    result = asyncio.run(run(args.url, args.concurrency, args.duration, args.quiet_wait))
    print(json.dumps(result, indent=2))
    print(write_result("activities", result))


if __name__ == "__main__":
    main()
