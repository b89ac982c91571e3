"""In-process benchmark of the cached stats/goals read path (a cache hit), before and after issue 11's change:

- before: GET the version key + HGET the document (2 Redis round trips), json.loads, then FastAPI serialises the
  dict again (and validates `list[GoalPublic]` for /goals) — the read path as it was, reproduced here;
- after: services.progress.ProgressService over storage.stats_cache (one EVALSHA), ready bytes + ETag, and the
  conditional request (If-None-Match -> 304).

Real Redis (the stack's, db 1 under the tests' key prefix u:<random uuid>:), FastAPI apps called straight through
ASGI (no HTTP client, no auth: the same for both), 20 concurrent callers, 9 alternating rounds; prints medians of
CPU per request, requests per second and Redis round trips per request. `python -m loadtest.bench_read_path` with
the stack's environment (`source cluster/env.sh`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import time
import uuid
from typing import Any

from fastapi import FastAPI, Header, Response
from pydantic import BaseModel, ConfigDict

from config.settings import Settings
from domain.progress.facts import ActivityFact
from domain.progress.goals import Goal
from domain.progress.user_stats import recompute
from services.progress import Document, ProgressService
from storage.redis_store import build_redis
from storage.stats_cache import RedisStatsCache

N = 1000
CONC = 20


class OldGoalPublic(BaseModel):
    """The goals response model before (validated on every read)."""

    model_config = ConfigDict(extra="allow")

    goal_id: uuid.UUID
    goal_type: str
    target_value: float
    period: str
    start_date: dt.date
    end_date: dt.date | None
    current_period_progress: float
    current_period_start: dt.date
    current_period_end: dt.date
    achieved: bool
    history: list[dict[str, Any]] = []


def user_stats(user_id: uuid.UUID):
    now = dt.datetime.now(dt.UTC)
    facts = [
        ActivityFact(
            str(uuid.uuid4()),
            "running" if i % 2 else "cycling",
            now - dt.timedelta(days=i * 11),
            distance_m=5000 + i * 100,
            moving_s=1800 + i,
            best_efforts=(("1k", 250.0 + i),),
            revision=1,
        )
        for i in range(31)
    ]
    goals = [
        Goal(str(uuid.uuid4()), "weekly_distance", 30000, dt.date(2026, 1, 1)),
        Goal(str(uuid.uuid4()), "monthly_count", 12, dt.date(2026, 1, 1)),
    ]
    return recompute(str(user_id), "UTC", facts, goals)


class Shards:
    def __init__(self, s) -> None:
        self.s = s
        self.reads = 0

    async def read(self, user_id, what, params=None):
        self.reads += 1
        return {"stats": self.s.snapshot, "goals": self.s.goals_view}[what]()

    async def reload_goals(self, user_id):
        return 0


def old_app(redis, shards, ttl: int) -> FastAPI:
    app = FastAPI()

    async def cached_read(user_id, what, params=None):  # serve_app/progress_service.py before this change
        key = f"u:{user_id}:{what}"
        digest = hashlib.sha1(json.dumps(params or {}, sort_keys=True, default=str).encode()).hexdigest()
        version = (await redis.get(f"u:{user_id}:sv") or b"0").decode()
        hit = await redis.hget(key, f"{version}:{digest}")
        if hit is not None:
            return json.loads(hit)
        value = await shards.read(user_id, what, params)
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, f"{version}:{digest}", json.dumps(value, default=str))
            pipe.expire(key, ttl)
            await pipe.execute()
        return value

    @app.get("/users/{user_id}/stats")
    async def stats(user_id: uuid.UUID) -> dict[str, Any]:
        return await cached_read(user_id, "stats")

    @app.get("/users/{user_id}/goals", response_model=list[OldGoalPublic])
    async def goals(user_id: uuid.UUID) -> list[dict[str, Any]]:
        return await cached_read(user_id, "goals")

    return app


def new_app(svc: ProgressService) -> FastAPI:
    app = FastAPI()

    def answer(doc: Document, inm: str | None) -> Response:
        headers = {"ETag": doc.etag, "Cache-Control": "private, no-cache"}
        if doc.matches(inm):
            return Response(status_code=304, headers=headers)
        return Response(doc.body, media_type="application/json", headers=headers)

    @app.get("/users/{user_id}/stats")
    async def stats(user_id: uuid.UUID, if_none_match: str | None = Header(None)) -> Response:
        return answer(await svc.stats(user_id), if_none_match)

    @app.get("/users/{user_id}/goals")
    async def goals(user_id: uuid.UUID, if_none_match: str | None = Header(None)) -> Response:
        return answer(await svc.goals(user_id), if_none_match)

    return app


async def commands(redis) -> int:
    info = await redis.info("stats")
    return int(info["total_commands_processed"])


class Counting:
    """Counts client round trips: each command outside a pipeline, each pipeline execute."""

    def __init__(self, redis) -> None:
        self.n = 0
        real = redis.execute_command

        async def execute_command(*args, **kwargs):
            self.n += 1
            return await real(*args, **kwargs)

        redis.execute_command = execute_command


async def call_asgi(app, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """One request straight into the ASGI app (no HTTP client): (status, body bytes)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    out = {"status": 0, "bytes": 0}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["bytes"] += len(message.get("body", b""))

    await app(scope, receive, send)
    return out["status"], out["bytes"]


async def drive(app: FastAPI, path: str, headers: dict[str, str], counter: Counting) -> dict[str, float]:
    for _ in range(50):  # warm
        status, size = await call_asgi(app, path, headers)
        assert status in (200, 304), status
    queue = iter(range(N))

    async def worker() -> None:
        for _ in queue:
            st, _ = await call_asgi(app, path, headers)
            assert st in (200, 304)

    n0 = counter.n
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONC)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "req_per_s": round(N / wall),
        "cpu_us_per_req": round(cpu / N * 1e6),
        "redis_round_trips_per_req": round((counter.n - n0) / N, 2),
        "status": status,
        "bytes": size,
    }


async def main() -> None:
    settings = Settings.model_validate({"redis_db": 1})
    redis = build_redis(settings)
    counter = Counting(redis)
    user_id = uuid.uuid4()
    shards = Shards(user_stats(user_id))
    svc = ProgressService(lambda: None, shards, RedisStatsCache(redis, 600), today=dt.date.today)  # type: ignore[arg-type]
    old, new = old_app(redis, shards, 600), new_app(svc)
    etag = {}
    for what in ("stats", "goals"):
        etag[what] = (await svc._read(user_id, what)).etag
    import statistics

    samples: dict[str, list[dict[str, float]]] = {}
    for _ in range(9):
        for what in ("stats", "goals"):
            path = f"/users/{user_id}/{what}"
            for name, app, hdrs in (
                ("before", old, {}),
                ("after", new, {}),
                ("after-304", new, {"if-none-match": etag[what]}),
            ):
                samples.setdefault(f"{what}/{name}", []).append(await drive(app, path, hdrs, counter))
    for k, runs in samples.items():
        print(
            f"{k:16s} cpu_us_per_req median {statistics.median(r['cpu_us_per_req'] for r in runs):6.0f}"
            f"  req_per_s median {statistics.median(r['req_per_s'] for r in runs):6.0f}"
            f"  redis round trips/req {runs[0]['redis_round_trips_per_req']}  status {runs[0]['status']}"
            f"  body bytes {runs[0]['bytes']}"
        )
    await redis.delete(f"u:{user_id}:sv", f"u:{user_id}:stats", f"u:{user_id}:goals")
    await redis.aclose()


asyncio.run(main())
