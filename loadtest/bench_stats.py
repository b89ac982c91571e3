"""Benchmark: GET /users/{id}/stats and /goals under load (cached through Redis), next to the no-op /health
endpoint measured in the same run through the same ingress."""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random

import httpx

from loadtest import wrk
from loadtest.harness import closed_loop, register, write_result


async def seed_user(client: httpx.AsyncClient, activities: int) -> tuple[str, dict[str, str]]:
    """A user with `activities` manual activities over the last year and two goals."""
    headers = await register(client, "stats")
    me = (await client.get("/users/me", headers=headers)).json()
    user_id = me["user_id"]
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(activities):
        start = now - dt.timedelta(days=random.uniform(0, 365))
        body = {"type": random.choice(["running", "cycling"]), "start_time": start.isoformat(),
                "duration": random.uniform(1200, 5400), "distance": random.uniform(3000, 40000)}
        (await client.post("/activities", json=body, headers=headers)).raise_for_status()
    for goal_type, target in (("weekly_distance", 30000), ("monthly_count", 12)):
        await client.post("/goals", headers=headers, json={"user_id": user_id, "goal_type": goal_type,
                                                             "target_value": target, "start_date": "2026-01-01"})
    for _ in range(300):  # wait until the stats actor has applied every event
        stats = (await client.get(f"/users/{user_id}/stats", headers=headers)).json()
        if stats.get("lifetime_workouts") == activities:
            break
        await asyncio.sleep(0.2)
    return user_id, headers


async def run(base_url: str, concurrency: int, duration_s: float, users: int, activities: int) -> dict:
    """Seed users, then measure the reference and the two reads."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        seeded = [await seed_user(client, activities) for _ in range(users)]
    if wrk.available():  # a C generator: httpx on the same 2 cores would cap every endpoint near 150 req/s
        load = lambda reqs: wrk.run(base_url, reqs, concurrency=concurrency, duration_s=duration_s)  # noqa: E731
        noop = load([("/health", {})])
        stats = load([(f"/users/{u}/stats", h) for u, h in seeded])
        goals = load([(f"/users/{u}/goals", h) for u, h in seeded])
    else:
        noop = await closed_loop(lambda c, i: c.get("/health"), base_url=base_url, concurrency=concurrency,
                                 duration_s=duration_s)
        stats = await closed_loop(_reader(seeded, "stats"), base_url=base_url, concurrency=concurrency,
                                  duration_s=duration_s)
        goals = await closed_loop(_reader(seeded, "goals"), base_url=base_url, concurrency=concurrency,
                                  duration_s=duration_s)
    ratio = (lambda r: round(r["requests_per_s"] / noop["requests_per_s"], 3) if noop["requests_per_s"] else None)
    return {"users": users, "activities_per_user": activities, "noop_health": noop, "stats": stats, "goals": goals,
            "stats_vs_noop_throughput_ratio": ratio(stats), "goals_vs_noop_throughput_ratio": ratio(goals)}


def _reader(seeded: list[tuple[str, dict[str, str]]], path: str):
    async def call(c: httpx.AsyncClient, i: int) -> httpx.Response:
        user_id, headers = seeded[i % len(seeded)]
        return await c.get(f"/users/{user_id}/{path}", headers=headers)
    return call


def main() -> None:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--users", type=int, default=20)  # per-user API rate limits apply: spread the load
    parser.add_argument("--activities", type=int, default=30)
    args, _ = parser.parse_known_args()
    result = asyncio.run(run(args.url, args.concurrency, args.duration, args.users, args.activities))
    print(json.dumps(result, indent=2))
    print(write_result("stats", result))


if __name__ == "__main__":
    main()
