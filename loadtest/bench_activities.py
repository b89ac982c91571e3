"""Benchmark: processing a 3,600-point activity, and POST /activities with 3,600 points at 20 concurrent clients,
next to the no-op /health endpoint measured in the same run through the same ingress."""
from __future__ import annotations

import argparse
import asyncio
import json
import uuid

import httpx

from domain.bench import time_process
from loadtest import wrk
from loadtest.harness import closed_loop, register, write_result
from loadtest.synthetic import straight_ride, upload_body


async def run(base_url: str, concurrency: int, duration_s: float) -> dict:
    """Measure the reference and the upload; returns the result document."""
    processing = time_process(n=3600, repeat=50)
    noop_httpx = await closed_loop(lambda c, i: c.get("/health"), base_url=base_url, concurrency=concurrency,
                                   duration_s=duration_s)
    noop = wrk.run(base_url, [("/health", {})], concurrency=concurrency, duration_s=duration_s) if wrk.available() \
        else noop_httpx
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as c:
        headers = await register(c, "activities")
    body = upload_body(straight_ride(seconds=3600), sport="cycling")
    payload = json.dumps(body)

    async def post(client: httpx.AsyncClient, i: int) -> httpx.Response:
        raw = payload.replace('"type": "cycling"', f'"type": "cycling", "client_id": "{uuid.uuid4()}"', 1)
        return await client.post("/activities", content=raw, headers={**headers, "Content-Type": "application/json"})

    upload = await closed_loop(post, base_url=base_url, concurrency=concurrency, duration_s=duration_s,
                               ok_statuses=(201,))
    return {
        "processing_3600_points": processing,
        "noop_health": noop,
        "noop_health_same_generator": noop_httpx,  # the uploads' own generator, for an apples-to-apples ratio
        "upload_3600_points": upload,
        "upload_vs_noop_throughput_ratio": round(upload["requests_per_s"] / noop["requests_per_s"], 4)
        if noop["requests_per_s"] else None,
        "upload_vs_noop_same_generator_ratio": round(upload["requests_per_s"] / noop_httpx["requests_per_s"], 4)
        if noop_httpx["requests_per_s"] else None,
        "points_per_s": round(upload["requests_per_s"] * 3600),
    }


def main() -> None:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.concurrency, args.duration))
    print(json.dumps(result, indent=2))
    print(write_result("activities", result))


if __name__ == "__main__":
    main()
