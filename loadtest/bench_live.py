"""Benchmark: N simultaneous simulated live workouts, each posting a batch of points every 5 s, stepped upward.

For each step N it reports the sustained acknowledged batches/s and samples/s, the acknowledgement latency p50/p99
of POST /activities/{id}/samples (an ack means the batch is in Cassandra), and the errors. It stops stepping at the
first step whose p99 reaches 1 s or that has errors, and reports `largest_n_with_p99_under_1s`.

As a reference, measured in the same run, it inserts the same rows straight through the cassandra-driver
(`SampleStore.write_batch`: one prepared INSERT per batch into `samples`, `execute_async`, bounded concurrency) and
reports rows/s with per-insert latency, plus the ratio HTTP-acked batches/s : raw inserts/s.

The load generator is one asyncio process (httpx.AsyncClient, keep-alive pool sized for N). On a small machine it
shares the CPUs with the server, so its own CPU time is recorded, and a per-process CPU sample (like `top`) is taken
in the middle of every step.

Each simulated user runs at most --per-user workouts so that the per-user API rate limit (rate_api_refill_per_s,
10/s by default; a workout sends 0.2 req/s) is never what is measured. Users are registered as steps need them; a
login refused by the per-IP login limit (429) is retried after its Retry-After.

`python -m loadtest.bench_live [--url http://127.0.0.1:8000] [--steps 50,100,200] [--step-seconds 40]
[--batch-points 5]` writes loadtest/results/live.json.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from config.settings import Settings
from domain.track import Track
from loadtest.harness import cpu_sample, loopback_client, percentile, register, wait_for_quiet, write_result

P99_LIMIT_MS = 1000.0
# httpx/httpcore scans its whole pool on every request: one client with hundreds of connections in use costs ~5x the
# CPU per request (measured: 6 ms -> 29 ms at 400 in flight), so the workouts are spread over clients of this size.
CONNECTIONS_PER_CLIENT = 50
PASSWORD = "bench-password-123"
EARTH_R = 6_371_008.8


# ---------------------------------------------------------------------------------------------- simulated workouts

@dataclass
class Workout:
    """One simulated watch: its live activity, its owner's bearer header, and where it is on its route."""

    activity_id: str
    headers: dict[str, str]
    lat0: float
    lng0: float
    seq: int = 1  # the next batch to send (a refused batch is sent again, as a watch would)

    def batch(self, points: int, interval_s: float) -> bytes:
        """Batch `seq`: `points` samples of GPS + altitude + HR, evenly spread over `interval_s` (1 Hz for 5 in 5 s)."""
        dt = interval_s / points
        base = (self.seq - 1) * interval_s
        pts = []
        for i in range(points):
            t = base + i * dt
            east = 3.0 * t  # 3 m/s eastward
            pts.append({"time": round(t, 3), "lat": self.lat0,
                        "lng": self.lng0 + math.degrees(east / (EARTH_R * math.cos(math.radians(self.lat0)))),
                        "altitude": 200.0 + 5 * math.sin(t / 60), "heart_rate": 140.0 + 10 * math.sin(t / 90)})
        return json.dumps({"seq": self.seq, "points": pts}).encode()


@dataclass
class Pool:
    """Users and workouts created so far (steps reuse the workouts of earlier steps and add more)."""

    users: list[dict[str, str]] = field(default_factory=list)
    workouts: list[Workout] = field(default_factory=list)
    login_waits_s: float = 0.0


async def register_user(client: httpx.AsyncClient, pool: Pool, tag: str) -> dict[str, str]:
    """harness.register, and when the login is rate limited (per-IP login bucket), wait and log the same user in."""
    try:
        return await register(client, tag)
    except (KeyError, httpx.HTTPStatusError):
        pass
    email = f"bench-{tag}-{uuid.uuid4().hex[:10]}@example.com"
    async with loopback_client(client) as one:  # registration is rate limited per client address
        r = await one.post("/users", json={"email": email, "password": PASSWORD, "name": f"bench {tag}"})
    r.raise_for_status()
    for _ in range(60):
        r = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        if r.status_code == 200:
            return {"Authorization": f"Bearer {r.json()['access_token']}"}
        if r.status_code != 429:
            r.raise_for_status()
        wait = float(r.headers.get("Retry-After", "5"))
        pool.login_waits_s += wait
        await asyncio.sleep(wait)
    raise RuntimeError("could not log a benchmark user in (login rate limit)")


async def grow(client: httpx.AsyncClient, pool: Pool, n: int, per_user: int, concurrency: int = 32) -> None:
    """Make sure `n` live workouts exist, spread over ceil(n / per_user) users."""
    while len(pool.users) < math.ceil(n / per_user):
        pool.users.append(await register_user(client, pool, "live"))
    sem = asyncio.Semaphore(concurrency)
    rng = random.Random(len(pool.workouts))

    async def start(i: int) -> Workout:
        headers = pool.users[i // per_user]
        async with sem:
            for attempt in range(5):
                r = await client.post("/activities/start", headers=headers,
                                      json={"type": "running", "client_id": f"bench-live-{uuid.uuid4()}"})
                if r.status_code in (200, 201):
                    return Workout(r.json()["activity_id"], headers, 45.0 + rng.uniform(-1, 1), 7.0 + rng.uniform(-1, 1))
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
            r.raise_for_status()
            raise RuntimeError(f"could not start a live workout: {r.status_code}")

    pool.workouts += await asyncio.gather(*(start(i) for i in range(len(pool.workouts), n)))


async def end_all(client: httpx.AsyncClient, pool: Pool, how: str, concurrency: int = 8) -> dict[str, Any]:
    """Finish (or discard) every workout so the stack is not left with live sessions; latency of that call."""
    if how == "none" or not pool.workouts:
        return {"how": how, "n": 0}
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors: dict[str, int] = {}

    async def end(w: Workout) -> None:
        async with sem:
            for _ in range(3):
                started = time.perf_counter()
                try:
                    if how == "finish":
                        r = await client.post(f"/activities/{w.activity_id}/finish", headers=w.headers, timeout=120)
                    else:
                        r = await client.delete(f"/activities/{w.activity_id}", headers=w.headers, timeout=120)
                    code = r.status_code
                except httpx.HTTPError as exc:
                    code, r = type(exc).__name__, None
                if code in (200, 204):
                    latencies.append((time.perf_counter() - started) * 1000)
                    return
                errors[str(code)] = errors.get(str(code), 0) + 1
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")) if r is not None else 1)

    began = time.monotonic()
    await asyncio.gather(*(end(w) for w in pool.workouts))
    return {"how": how, "n": len(pool.workouts), "ok": len(latencies), "errors": errors,
            "duration_s": round(time.monotonic() - began, 1), "p50_ms": _r(percentile(latencies, 50)),
            "p99_ms": _r(percentile(latencies, 99))}


# ---------------------------------------------------------------------------------------------- one step

async def run_step(clients: list[httpx.AsyncClient], pool: Pool, n: int, seconds: float, points: int,
                   interval_s: float, sample_cpu: bool) -> dict[str, Any]:
    """Drive the first n workouts for `seconds`: each sends a batch every interval_s, first one at a random offset."""
    latencies: list[float] = []
    lags: list[float] = []
    errors: dict[str, int] = {}
    rng = random.Random(n)
    t0 = time.monotonic() + 0.2
    end = t0 + seconds
    last_done = t0

    async def watch(i: int, w: Workout) -> None:
        nonlocal last_done
        client = clients[i // CONNECTIONS_PER_CLIENT]
        at = t0 + rng.uniform(0, interval_s)
        while at < end:
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append(max(0.0, time.monotonic() - at) * 1000)
            body = w.batch(points, interval_s)
            started = time.perf_counter()
            try:
                r = await client.post(f"/activities/{w.activity_id}/samples", content=body,
                                      headers={**w.headers, "Content-Type": "application/json"})
                code = r.status_code
            except httpx.HTTPError as exc:
                code = type(exc).__name__
            if code == 200:
                latencies.append((time.perf_counter() - started) * 1000)
                w.seq += 1
            else:
                errors[str(code)] = errors.get(str(code), 0) + 1
            last_done = max(last_done, time.monotonic())
            at += interval_s  # the next batch is due 5 s after this one was due (a late answer is not waited for twice)
            if at < time.monotonic():
                at = time.monotonic()

    cpu_before = time.process_time()
    tasks = [asyncio.create_task(watch(i, w)) for i, w in enumerate(pool.workouts[:n])]
    cpu = None
    if sample_cpu:
        await asyncio.sleep(max(0.0, seconds / 2 - 1.5))
        cpu = await cpu_sample(3.0)
    await asyncio.gather(*tasks)
    gen_cpu = time.process_time() - cpu_before
    elapsed = max(seconds, last_done - t0)
    ok = len(latencies)
    return {
        "n": n, "duration_s": round(elapsed, 2), "batches_ok": ok, "errors": errors,
        "offered_batches_per_s": round(n / interval_s, 1),
        "batches_per_s": round(ok / elapsed, 1), "samples_per_s": round(ok * points / elapsed, 1),
        "ack_p50_ms": _r(percentile(latencies, 50)), "ack_p99_ms": _r(percentile(latencies, 99)),
        "ack_max_ms": _r(max(latencies)) if latencies else None,
        "ack_mean_ms": _r(statistics.fmean(latencies)) if latencies else None,
        "send_lag_p99_ms": _r(percentile(lags, 99)),
        "generator_cpu_s": round(gen_cpu, 2), "generator_cpu_pct_of_one_core": round(100 * gen_cpu / elapsed, 1),
        "cpu_mid_step": cpu,
    }


# ---------------------------------------------------------------------------------------------- raw reference

async def raw_cassandra(settings: Settings, seconds: float, concurrency: int, points: int, interval_s: float,
                        activities: int = 256, sample_cpu: bool = True) -> dict[str, Any]:
    """The same per-batch rows written straight through the driver: SampleStore.write_batch (one prepared INSERT into
    `samples`, execute_async) by `concurrency` workers for `seconds`; the rows are deleted afterwards."""
    from storage.cassandra import Cassandra
    from storage.samples import SampleStore, live_bucket

    cas = Cassandra(settings)
    store = SampleStore(cas, settings.sample_bucket_seconds)
    ids = [uuid.uuid4() for _ in range(activities)]
    seqs = [0] * activities
    dt = interval_s / points
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = 0

    def track(seq: int) -> Track:
        t = (seq - 1) * interval_s + np.arange(points) * dt
        return Track.from_arrays(t, lat=np.full(points, 45.0), lng=7.0 + t * 4e-5, alt=200 + np.sin(t / 60),
                                 hr=140 + 10 * np.sin(t / 90))

    tracks = {s: track(s) for s in range(1, 65)}
    await store.write_batch(uuid.uuid4(), 1, tracks[1])  # connect and prepare outside the timing
    ids.append(uuid.uuid4())
    seqs.append(1)
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal counter
        while time.monotonic() < deadline:
            i = counter % activities
            counter += 1
            seqs[i] += 1
            seq = seqs[i]
            started = time.perf_counter()
            try:
                await store.write_batch(ids[i], seq, tracks[seq] if seq in tracks else track(seq))
                latencies.append((time.perf_counter() - started) * 1000)
            except Exception as exc:  # noqa: BLE001 - counted
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    cpu_before = time.process_time()
    began = time.monotonic()
    workers = asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu = None
    if sample_cpu and seconds >= 5:
        await asyncio.sleep(seconds / 2 - 1.5)
        cpu = await cpu_sample(3.0)
    await workers
    elapsed = time.monotonic() - began
    gen_cpu = time.process_time() - cpu_before
    # clean up: these rows belong to no activity
    stmt = cas.prepare("DELETE FROM {keyspace}.samples WHERE activity_id = ? AND bucket = ?")
    sem = asyncio.Semaphore(64)

    async def delete(aid: uuid.UUID, bucket: int) -> None:
        async with sem:
            with contextlib.suppress(Exception):
                await cas.execute(stmt, (aid, bucket))

    await asyncio.gather(*(delete(aid, b) for aid, top in zip(ids, seqs) for b in range(live_bucket(max(top, 1)) + 1)))
    cas.close()
    return {"rows": len(latencies), "points_per_row": points, "concurrency": concurrency, "duration_s": round(elapsed, 2),
            "rows_per_s": round(len(latencies) / elapsed, 1), "samples_per_s": round(len(latencies) * points / elapsed, 1),
            "p50_ms": _r(percentile(latencies, 50)), "p99_ms": _r(percentile(latencies, 99)), "errors": errors,
            "generator_cpu_s": round(gen_cpu, 2), "cpu_mid_run": cpu, "how": "SampleStore.write_batch -> prepared INSERT, execute_async"}


# ---------------------------------------------------------------------------------------------- the whole run

async def run(base_url: str, steps: list[int], step_seconds: float, points: int, interval_s: float, per_user: int,
              raw_seconds: float, raw_concurrency: int, end_how: str, sample_cpu: bool,
              quiet_wait_s: float = 0.0) -> dict[str, Any]:
    """Raw reference first, then the steps until p99 >= 1 s or errors; then end every workout."""
    cpu_start = time.process_time()
    wall_start = time.monotonic()
    settings = Settings()
    quiet_before_raw = await wait_for_quiet(quiet_wait_s) if quiet_wait_s > 0 else None
    raw = await raw_cassandra(settings, raw_seconds, raw_concurrency, points, interval_s, sample_cpu=sample_cpu) if raw_seconds > 0 else None
    # keep-alive pools sized for N in all: one client per CONNECTIONS_PER_CLIENT workouts; idle connections outlive
    # the gap between two batches (HAProxy keeps them 90 s)
    limits = httpx.Limits(max_connections=CONNECTIONS_PER_CLIENT + 4, max_keepalive_connections=CONNECTIONS_PER_CLIENT + 4,
                          keepalive_expiry=max(30.0, 3 * interval_s))
    pool = Pool()
    results: list[dict[str, Any]] = []
    stopped = "every step passed"
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits))
                   for _ in range(math.ceil(max(steps) / CONNECTIONS_PER_CLIENT))]
        client = clients[0]
        try:
            for n in steps:
                setup = time.monotonic()
                await grow(client, pool, n, per_user)
                quiet = await wait_for_quiet(quiet_wait_s) if quiet_wait_s > 0 else None
                step = await run_step(clients, pool, n, step_seconds, points, interval_s, sample_cpu)
                step["users"] = math.ceil(n / per_user)
                step["before_step"] = quiet
                step["setup_s"] = round(time.monotonic() - setup - step["duration_s"], 1)
                results.append(step)
                print(json.dumps({k: step[k] for k in ("n", "batches_per_s", "samples_per_s", "ack_p50_ms", "ack_p99_ms",
                                                       "errors", "generator_cpu_pct_of_one_core")}), flush=True)
                if step["errors"]:
                    stopped = f"errors at N={n}"
                    break
                if not step["ack_p99_ms"] < P99_LIMIT_MS:
                    stopped = f"p99 >= {P99_LIMIT_MS:.0f} ms at N={n}"
                    break
        finally:
            ended = await end_all(client, pool, end_how)
    passing = [s for s in results if not s["errors"] and s["ack_p99_ms"] < P99_LIMIT_MS]
    best = max(passing, key=lambda s: s["n"]) if passing else None
    peak = max((s["batches_per_s"] for s in results), default=0.0)
    return {
        "config": {"steps": steps, "step_seconds": step_seconds, "batch_points": points, "batch_interval_s": interval_s,
                   "workouts_per_user": per_user, "users_registered": len(pool.users),
                   "login_rate_limit_waits_s": pool.login_waits_s, "p99_limit_ms": P99_LIMIT_MS, "end": end_how,
                   "api_replicas": settings.api_replicas, "workout_shards": settings.workout_shards},
        "raw_cassandra_insert": raw and {**raw, "before_run": quiet_before_raw},
        "steps": results,
        "stopped": stopped,
        "largest_n_with_p99_under_1s": best["n"] if best else None,
        "largest_n_is_lower_bound": bool(best) and best is results[-1],
        "at_largest_n": {k: best[k] for k in ("batches_per_s", "samples_per_s", "ack_p50_ms", "ack_p99_ms")} if best else None,
        "peak_acked_batches_per_s": peak,
        "http_acked_batches_vs_raw_inserts_ratio": round(peak / raw["rows_per_s"], 4) if raw and raw["rows_per_s"] else None,
        "end_workouts": ended,
        "generator_cpu_s_total": round(time.process_time() - cpu_start, 1),
        "wall_s_total": round(time.monotonic() - wall_start, 1),
        "note": "the load generator runs on the same machine as the server and shares its CPUs",
    }


def _r(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, 2)


def main() -> None:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--steps", default="50,100,150,200,250,300,400,500,600,800,1200,1600",
                        help="comma-separated N (simultaneous workouts) to try, in order")
    parser.add_argument("--step-seconds", type=float, default=40.0, help="how long each step runs")
    parser.add_argument("--batch-points", type=int, default=5, help="points per batch (5 = 1 Hz over 5 s)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between a workout's batches")
    parser.add_argument("--per-user", type=int, default=40, help="simultaneous workouts per simulated user")
    parser.add_argument("--raw-seconds", type=float, default=10.0, help="raw cassandra-driver reference (0: skip)")
    parser.add_argument("--raw-concurrency", type=int, default=32, help="inserts in flight for the reference")
    parser.add_argument("--end", choices=("finish", "delete", "none"), default="finish",
                        help="what to do with the workouts afterwards")
    parser.add_argument("--quiet-wait", type=float, default=120.0,
                        help="before each step wait up to this long for other processes (not this stack) to go idle")
    parser.add_argument("--no-cpu-sample", action="store_true", help="skip the per-process CPU sample mid-step")
    args, unknown = parser.parse_known_args()  # `make bench ARGS=...` passes the same flags to every benchmark
    if unknown:
        print(f"bench_live: ignoring {unknown}")
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    result = asyncio.run(run(args.url, steps, args.step_seconds, args.batch_points, args.interval, args.per_user,
                             args.raw_seconds, args.raw_concurrency, args.end, not args.no_cpu_sample,
                             args.quiet_wait))
    print(json.dumps(result, indent=2))
    print(write_result("live", result))


if __name__ == "__main__":
    main()
