"""Benchmark: the key reads under load, next to the no-op `GET /health` through the same ingress in the same run,
all driven by `wrk` (C): `GET /activities/{id}` (a 3,600-point activity), `GET /users/{id}/activities`,
`GET /users/{id}/stats` and `GET /users/{id}/goals`, each also conditional (`If-None-Match` -> 304) where the
route gives an ETag. Target (issue 11): every read >= 0.5 of the no-op's requests/s (aim: 0.8)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
from typing import Any

import httpx

from loadtest.bench_activities import bodies, measured
from loadtest.harness import register, wait_for_quiet, write_result

TARGET_RATIO = 0.5


async def seed_user(client: httpx.AsyncClient, activities: int, ride: bytes) -> dict[str, Any]:
    """A user with one 3,600-point ride, `activities` manual activities over the last year and two goals."""
    headers = await register(client, "reads")
    user_id = (await client.get("/users/me", headers=headers)).json()["user_id"]
    r = await client.post("/activities", content=ride, headers={**headers, "Content-Type": "application/json"})
    r.raise_for_status()
    ride_id = r.json()["activity_id"]
    now = dt.datetime.now(dt.UTC)
    for _ in range(activities):
        start = now - dt.timedelta(days=random.uniform(0, 365))
        body = {
            "type": random.choice(["running", "cycling"]),
            "start_time": start.isoformat(),
            "duration": random.uniform(1200, 5400),
            "distance": random.uniform(3000, 40000),
        }
        (await client.post("/activities", json=body, headers=headers)).raise_for_status()
    for goal_type, target in (("weekly_distance", 30000), ("monthly_count", 12)):
        await client.post(
            "/goals",
            headers=headers,
            json={"user_id": user_id, "goal_type": goal_type, "target_value": target, "start_date": str(now.date())},
        )
    for _ in range(300):  # wait until the stats actor has applied every event
        stats = (await client.get(f"/users/{user_id}/stats", headers=headers)).json()
        if stats.get("lifetime_workouts") == activities + 1:
            break
        await asyncio.sleep(0.2)
    return {"user_id": user_id, "headers": headers, "ride_id": ride_id}


async def _conditional(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> dict[str, str]:
    """The headers of a revalidation request (If-None-Match with the current ETag), or the plain ones."""
    etag = (await client.get(path, headers=headers)).headers.get("etag")
    return {**headers, "If-None-Match": etag} if etag else headers


async def run(
    base_url: str, concurrency: int, duration_s: float, users: int, activities: int, quiet_wait_s: float
) -> dict[str, Any]:
    """Seed users, then measure the reference and each read."""
    ride = bodies()["streams"]
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        seeded = await asyncio.gather(*(seed_user(client, activities, ride) for _ in range(users)))
        paths = {
            "activity": [(f"/activities/{u['ride_id']}", u["headers"]) for u in seeded],
            "activity_list": [(f"/users/{u['user_id']}/activities?limit=20", u["headers"]) for u in seeded],
            "stats": [(f"/users/{u['user_id']}/stats", u["headers"]) for u in seeded],
            "goals": [(f"/users/{u['user_id']}/goals", u["headers"]) for u in seeded],
        }
        revalidate = {name: [(p, await _conditional(client, p, h)) for p, h in reqs] for name, reqs in paths.items()}
    quiet = await wait_for_quiet(quiet_wait_s) if quiet_wait_s > 0 else None
    noop = await measured(base_url, [("/health", {})], concurrency=concurrency, duration_s=duration_s)
    reads: dict[str, Any] = {}
    for name, reqs in paths.items():
        result = await measured(base_url, list(reqs), concurrency=concurrency, duration_s=duration_s)
        reads[name] = {
            **result,
            "vs_noop_throughput_ratio": round(result["requests_per_s"] / noop["requests_per_s"], 3),
        }
        if any("If-None-Match" in h for _, h in revalidate[name]):
            cond = await measured(
                base_url, list(revalidate[name]), concurrency=concurrency, duration_s=duration_s, ok_statuses=(304,)
            )
            reads[f"{name}_if_none_match"] = {
                **cond,
                "vs_noop_throughput_ratio": round(cond["requests_per_s"] / noop["requests_per_s"], 3),
            }
    return {
        "users": users,
        "activities_per_user": activities + 1,
        "quiet_before": quiet,
        "noop_health": noop,
        "reads": reads,
        "target_ratio": TARGET_RATIO,
        "all_meet_target": all(
            r["vs_noop_throughput_ratio"] >= TARGET_RATIO and r["non_2xx"] == 0 for r in reads.values()
        ),
    }


def main() -> None:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration", type=float, default=15.0)
    # per-user API rate limits apply (600 burst, 10/s): at ~1,500 reads/s, 250 users ask ~6/s each
    parser.add_argument("--users", type=int, default=250, help="per-user API rate limits apply: spread the load")
    parser.add_argument("--activities", type=int, default=4)
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    args, _ = parser.parse_known_args()
    result = asyncio.run(run(args.url, args.concurrency, args.duration, args.users, args.activities, args.quiet_wait))
    print(json.dumps(result, indent=2))
    print(write_result("reads", result))


if __name__ == "__main__":
    main()
