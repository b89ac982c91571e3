"""Benchmark: N simultaneous simulated live workouts, each sending a 5-point batch every 5 s, stepped upward, over
the owner WebSocket (`WS /ws/activities/{id}/live`) and over plain HTTP (`POST /activities/{id}/samples`).

A workout is a watch: it sends batch `seq` (1 Hz GPS + altitude + HR), waits for its acknowledgement (one batch in
flight), sends the next one 5 s after the previous one was due (its first at a random offset within the 5 s), and
sends the same seq again after a refusal or a lost connection. An ack means the batch is in Cassandra.

Per step N and transport: acked batches/s and samples/s, ack latency p50/p95/p99 (send -> ack), errors by kind,
reconnects (WebSocket), the generator's own CPU (total and per acked batch) and a `top`-like CPU sample per process
in the middle of the step (harness.cpu_sample). Stepping stops at the first step whose ack p99 reaches 1 s or that
has errors; `largest_n_with_p99_under_1s` is the last step that passed (a lower bound when every step passed).

Same-run reference: the same rows written straight through the cassandra-driver (`SampleStore.write_batch`, the
call a WorkoutShard makes per batch when it writes alone: one prepared INSERT, `execute_async`) from 32 coroutines,
rows/s; each transport's peak acked batches/s is reported as a ratio to it (a batch is one row, so the ratio is also
acked samples/s : raw samples/s). Up to the largest passing step the acked rate is the offered rate (N / 5 s), so
the ratio is a lower bound of what the path could carry.

Users: at most --per-user workouts each (the per-user API rate limit is 10 requests/s; a workout sends 0.2/s), each
user registered and logged in from its own loopback source address (registration and login are rate limited per
client address, and sockets are capped per address per socket replica: STRIDE_LIVE_WS_MAX_PER_CLIENT), and its
sockets leave from that address. Access tokens live 15 min: a background task refreshes them (POST /auth/refresh)
and hands the new token to the user's open sockets (`{"type": "auth"}`), as an app would. Workouts are started over
HTTP before the step that needs them (later steps reuse them, seq numbers continue; the HTTP transport reuses the
WebSocket transport's workouts) and finished at the end (`--end finish`).

The generator is one asyncio process (uvloop when installed): `websockets` client connections (no compression, no
keep-alive pings: a batch every 5 s keeps the connection busy) and httpx clients of 50 connections each (one httpx
pool with hundreds of connections in use costs ~5x the CPU per request). It shares the machine with the server, so
its CPU is recorded.

    python -m loadtest.bench_live [--url http://127.0.0.1:8000] [--transport ws|http|both] [--ws-steps 100,500]
        [--http-steps 100,200] [--step-seconds 30] [--raw-seconds 10]

writes loadtest/results/live.json: `transports.ws` and `transports.http` (each: steps, stopped,
largest_n_with_p99_under_1s, target, meets_target, acked_vs_raw_ratio), `raw_cassandra_insert`, and the keys of
the HTTP-only version of this file (`steps`, `largest_n_with_p99_under_1s`, `http_acked_batches_vs_raw_inserts_ratio`,
...: the HTTP transport's).
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import orjson

from config.settings import Settings
from domain.track import Track
from loadtest.harness import cpu_sample, new_account, percentile, wait_for_quiet, write_result

P99_LIMIT_MS = 1000.0
TARGETS = {"ws": 2000, "http": 1000}  # simultaneous workouts with ack p99 < 1 s (issue 11)
DEFAULT_STEPS = {"ws": "100,250,500,1000,1500,2000,2500,3000", "http": "100,200,400,600,800,1000,1200,1600"}
# httpx/httpcore scans its whole pool on every request: one client with hundreds of connections in use costs ~5x the
# CPU per request (measured: 6 ms -> 29 ms at 400 in flight), so the workouts are spread over clients of this size.
CONNECTIONS_PER_CLIENT = 50
EARTH_R = 6_371_008.8
REFRESH_BEFORE_S = 180.0  # refresh an access token this long before it expires


# ---------------------------------------------------------------------------------------------- users and workouts


@dataclass(eq=False)
class Account:
    """A benchmark user: its source address, its current tokens (headers mutated in place on refresh)."""

    ip: str
    user_id: str
    token: str
    refresh_token: str
    expires_at: float  # time.monotonic() when the access token expires
    headers: dict[str, str]
    workouts: list[Workout] = field(default_factory=list)


@dataclass(eq=False)
class Workout:
    """One simulated watch: its live activity, its owner, where it is on its route, and its socket if any."""

    activity_id: str
    account: Account
    lat0: float
    lng0: float
    seq: int = 1  # the next batch to send (a refused batch is sent again, as a watch would)
    ws: Any = None  # websockets ClientConnection while open

    def points(self, n: int, interval_s: float) -> list[dict[str, float]]:
        """Batch `seq`: n samples of GPS + altitude + HR spread over interval_s (1 Hz for 5 in 5 s)."""
        dt = interval_s / n
        base = (self.seq - 1) * interval_s
        coslat = math.cos(math.radians(self.lat0))
        out = []
        for i in range(n):
            t = base + i * dt
            out.append(
                {
                    "time": round(t, 3),
                    "lat": self.lat0,
                    "lng": self.lng0 + math.degrees(3.0 * t / (EARTH_R * coslat)),  # 3 m/s eastward
                    "altitude": 200.0 + 5 * math.sin(t / 60),
                    "heart_rate": 140.0 + 10 * math.sin(t / 90),
                }
            )
        return out


@dataclass
class Pool:
    """Users and workouts created so far (steps and transports reuse them and add more)."""

    base_url: str
    per_user: int
    accounts: list[Account] = field(default_factory=list)
    workouts: list[Workout] = field(default_factory=list)
    addresses: set[str] = field(default_factory=set)
    refreshes: int = 0
    refresh_errors: dict[str, int] = field(default_factory=dict)
    account_setup_s: float = 0.0


async def add_account(pool: Pool) -> Account:
    acc = await new_account(pool.base_url, "live", taken=pool.addresses)
    account = Account(
        acc["ip"],
        acc["user_id"],
        acc["access_token"],
        acc["refresh_token"],
        time.monotonic() + acc["expires_in"],
        acc["headers"],
    )
    pool.accounts.append(account)
    return account


async def grow(client: httpx.AsyncClient, pool: Pool, n: int, concurrency: int = 32) -> None:
    """Make sure `n` live workouts exist, `per_user` per user (users registered from spread addresses)."""
    began = time.monotonic()
    need = math.ceil(n / pool.per_user) - len(pool.accounts)
    sem = asyncio.Semaphore(8)

    async def one_account() -> None:
        async with sem:
            await add_account(pool)

    await asyncio.gather(*(one_account() for _ in range(max(0, need))))
    pool.account_setup_s += time.monotonic() - began
    start_sem = asyncio.Semaphore(concurrency)
    rng = random.Random(len(pool.workouts))

    async def start(i: int) -> Workout:
        account = pool.accounts[i // pool.per_user]
        async with start_sem:
            r = None
            for _ in range(8):
                try:
                    r = await client.post(
                        "/activities/start",
                        headers=account.headers,
                        json={"type": "running", "client_id": f"bench-live-{uuid.uuid4()}"},
                    )
                except httpx.HTTPError:
                    await asyncio.sleep(1)
                    continue
                if r.status_code in (200, 201):
                    w = Workout(r.json()["activity_id"], account, 45.0 + rng.uniform(-1, 1), 7.0 + rng.uniform(-1, 1))
                    account.workouts.append(w)
                    return w
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
            raise RuntimeError(f"could not start a live workout: {r.status_code if r is not None else 'no answer'}")

    pool.workouts += await asyncio.gather(*(start(i) for i in range(len(pool.workouts), n)))


async def refresher(client: httpx.AsyncClient, pool: Pool, every_s: float = 15.0) -> None:
    """Keep every user's access token fresh: POST /auth/refresh before it expires, update the headers in place, and
    send the new token to the user's open sockets (`{"type": "auth"}`), as an app does."""
    while True:
        await asyncio.sleep(every_s)
        now = time.monotonic()
        for account in list(pool.accounts):
            if account.expires_at - now > REFRESH_BEFORE_S:
                continue
            try:
                r = await client.post("/auth/refresh", json={"refresh_token": account.refresh_token})
                r.raise_for_status()
            except httpx.HTTPError as exc:
                kind = str(exc.response.status_code) if isinstance(exc, httpx.HTTPStatusError) else type(exc).__name__
                pool.refresh_errors[kind] = pool.refresh_errors.get(kind, 0) + 1
                continue
            tokens = r.json()
            account.token, account.refresh_token = tokens["access_token"], tokens["refresh_token"]
            account.expires_at = time.monotonic() + float(tokens.get("expires_in") or 900)
            account.headers["Authorization"] = f"Bearer {account.token}"
            pool.refreshes += 1
            message = orjson.dumps({"type": "auth", "token": account.token})
            for w in account.workouts:
                if w.ws is not None:
                    with contextlib.suppress(Exception):  # a closed socket reconnects with the new token
                        await w.ws.send(message.decode())


async def end_all(client: httpx.AsyncClient, pool: Pool, how: str, concurrency: int = 16) -> dict[str, Any]:
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
                r = None
                try:
                    if how == "finish":
                        r = await client.post(
                            f"/activities/{w.activity_id}/finish", headers=w.account.headers, timeout=120
                        )
                    else:
                        r = await client.delete(f"/activities/{w.activity_id}", headers=w.account.headers, timeout=120)
                    code: int | str = r.status_code
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                if code in (200, 204):
                    latencies.append((time.perf_counter() - started) * 1000)
                    return
                errors[str(code)] = errors.get(str(code), 0) + 1
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")) if r is not None else 1)

    began = time.monotonic()
    await asyncio.gather(*(end(w) for w in pool.workouts))
    return {
        "how": how,
        "n": len(pool.workouts),
        "ok": len(latencies),
        "errors": errors,
        "duration_s": round(time.monotonic() - began, 1),
        "concurrency": concurrency,
        "p50_ms": _r(percentile(latencies, 50)),
        "p99_ms": _r(percentile(latencies, 99)),
    }


# ---------------------------------------------------------------------------------------------- transports


class Http:
    """Batches as POST /activities/{id}/samples over keep-alive httpx clients of CONNECTIONS_PER_CLIENT each."""

    name = "http"

    def __init__(self, base_url: str, n_max: int, interval_s: float) -> None:
        limits = httpx.Limits(
            max_connections=CONNECTIONS_PER_CLIENT + 4,
            max_keepalive_connections=CONNECTIONS_PER_CLIENT + 4,
            keepalive_expiry=max(30.0, 3 * interval_s),
        )  # outlives the gap between two batches
        self.clients = [
            httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits)
            for _ in range(math.ceil(n_max / CONNECTIONS_PER_CLIENT))
        ]
        self.reconnects = 0
        self.received: dict[str, int] = {}

    async def prepare(self, workouts: list[Workout]) -> dict[str, Any]:
        return {}

    async def send(self, i: int, w: Workout, batch: dict[str, Any]) -> str | None:
        """None when acked, else the error kind."""
        client = self.clients[i // CONNECTIONS_PER_CLIENT]
        try:
            r = await client.post(
                f"/activities/{w.activity_id}/samples",
                content=orjson.dumps(batch),
                headers={**w.account.headers, "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if r.status_code == 200:
            return None
        try:
            code = r.json()["error"]["code"]
        except Exception:  # noqa: BLE001 - not our envelope
            code = ""
        return f"http {r.status_code} {code}".strip()

    async def close(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients), return_exceptions=True)


class WebSockets:
    """Batches as `{"type": "samples"}` messages on one owner socket per workout, opened from the user's address
    with the token in the subprotocol; a lost socket is opened again (counted as a reconnect) before the next batch."""

    name = "ws"

    def __init__(self, base_url: str, ack_timeout_s: float, open_concurrency: int) -> None:
        self.base = base_url.replace("http://", "ws://").replace("https://", "wss://")
        self.ack_timeout_s = ack_timeout_s
        self.open_concurrency = open_concurrency
        self.reconnects = 0
        self.received: dict[str, int] = {}  # messages other than the acks, by type (metrics updates, auth replies)

    async def connect(self, w: Workout) -> None:
        from websockets.asyncio.client import connect

        ws = await connect(
            f"{self.base}/ws/activities/{w.activity_id}/live",
            subprotocols=["stride.v1", f"bearer.{w.account.token}"],  # type: ignore[list-item]
            local_addr=(w.account.ip, 0),
            proxy=None,
            compression=None,
            ping_interval=None,
            open_timeout=self.ack_timeout_s,
            close_timeout=2,
            max_queue=64,
        )
        try:
            first = orjson.loads(await asyncio.wait_for(ws.recv(), self.ack_timeout_s))
        except BaseException:
            await ws.close()
            raise
        if first.get("type") != "metrics":
            await ws.close()
            raise RuntimeError(f"first message {first.get('type')}")
        w.ws = ws

    async def prepare(self, workouts: list[Workout]) -> dict[str, Any]:
        """Open the sockets of the workouts that have none (before the step, `open_concurrency` at a time)."""
        todo = [w for w in workouts if w.ws is None]
        sem = asyncio.Semaphore(self.open_concurrency)
        latencies: list[float] = []
        errors: dict[str, int] = {}

        async def one(w: Workout) -> None:
            async with sem:
                for _ in range(3):
                    started = time.perf_counter()
                    try:
                        await self.connect(w)
                        latencies.append((time.perf_counter() - started) * 1000)
                        return
                    except Exception as exc:  # noqa: BLE001 - counted, retried
                        kind = _ws_error(exc)
                        errors[kind] = errors.get(kind, 0) + 1
                        await asyncio.sleep(1)

        began = time.monotonic()
        await asyncio.gather(*(one(w) for w in todo))
        return {
            "opened": len(latencies),
            "open_errors": errors,
            "concurrency": self.open_concurrency,
            "duration_s": round(time.monotonic() - began, 2),
            "open_p50_ms": _r(percentile(latencies, 50)),
            "open_p99_ms": _r(percentile(latencies, 99)),
            "open_sockets": sum(1 for w in workouts if w.ws is not None),
        }

    async def send(self, i: int, w: Workout, batch: dict[str, Any]) -> str | None:
        """None when acked, else the error kind (the socket is dropped on a close or a timeout)."""
        from websockets.exceptions import ConnectionClosed

        try:
            if w.ws is None:
                self.reconnects += 1
                await self.connect(w)
            ws = w.ws
            await ws.send(orjson.dumps({"type": "samples", **batch}).decode())
            async with asyncio.timeout(self.ack_timeout_s):  # one timer per batch, not a task per message
                while True:
                    message = orjson.loads(await ws.recv())
                    kind = message.get("type")
                    if kind == "ack" and message.get("seq") == batch["seq"]:
                        return None
                    if kind == "error" and message.get("seq") in (batch["seq"], None):
                        return f"ws {message.get('status')} {message.get('code')}"
                    if kind in ("finished", "discarded"):
                        await self.drop(w)
                        return f"ws {kind}"
                    self.received[str(kind)] = self.received.get(str(kind), 0) + 1
        except ConnectionClosed as exc:
            w.ws = None
            return f"closed {exc.rcvd.code if exc.rcvd else 'abnormally'}"
        except TimeoutError:
            await self.drop(w)
            return "ack timeout"
        except Exception as exc:  # noqa: BLE001 - connect failures and the like, counted
            await self.drop(w)
            return _ws_error(exc)

    async def drop(self, w: Workout) -> None:
        ws, w.ws = w.ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def close_all(self, workouts: list[Workout]) -> None:
        await asyncio.gather(*(self.drop(w) for w in workouts), return_exceptions=True)


def _ws_error(exc: BaseException) -> str:
    from websockets.exceptions import InvalidStatus

    if isinstance(exc, InvalidStatus):
        return f"handshake {exc.response.status_code}"
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is not None:
        return f"closed {rcvd.code}"
    return type(exc).__name__


# ---------------------------------------------------------------------------------------------- one step


async def sample_cpu_aside(seconds: float) -> tuple[dict[str, Any], float]:
    """harness.cpu_sample in a thread of its own, and the CPU seconds that thread spent (walking /proc for every
    process is not the generator's work: it is subtracted from the generator's CPU)."""

    def work() -> tuple[dict[str, Any], float]:
        began = time.thread_time()
        sample = asyncio.run(cpu_sample(seconds))
        return sample, time.thread_time() - began

    return await asyncio.to_thread(work)


async def run_step(
    transport: Http | WebSockets, pool: Pool, n: int, seconds: float, points: int, interval_s: float, sample_cpu: bool
) -> dict[str, Any]:
    """Drive the first n workouts for `seconds`: each sends a batch every interval_s, first one at a random offset,
    and waits for its ack before the next."""
    latencies: list[float] = []
    lags: list[float] = []
    errors: dict[str, int] = {}
    rng = random.Random(n)
    reconnects_before = transport.reconnects
    received_before = dict(transport.received)
    t0 = time.monotonic() + 0.2
    end = t0 + seconds
    last_done = t0

    async def watch(i: int, w: Workout) -> None:
        nonlocal last_done
        at = t0 + rng.uniform(0, interval_s)
        while at < end:
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append(max(0.0, time.monotonic() - at) * 1000)
            batch = {"seq": w.seq, "points": w.points(points, interval_s)}
            started = time.perf_counter()
            error = await transport.send(i, w, batch)
            if error is None:
                latencies.append((time.perf_counter() - started) * 1000)
                w.seq += 1
            else:
                errors[error] = errors.get(error, 0) + 1
            last_done = max(last_done, time.monotonic())
            at += interval_s  # the next batch is due 5 s after this one was due (a late answer is not waited for twice)
            if at < time.monotonic():
                at = time.monotonic()

    cpu_before = time.process_time()
    tasks = [asyncio.create_task(watch(i, w)) for i, w in enumerate(pool.workouts[:n])]
    cpu, sampling_cpu = None, 0.0
    if sample_cpu:
        await asyncio.sleep(max(0.0, seconds / 2 - 1.5))
        cpu, sampling_cpu = await sample_cpu_aside(3.0)
    await asyncio.gather(*tasks)
    gen_cpu = time.process_time() - cpu_before - sampling_cpu
    elapsed = max(seconds, last_done - t0)
    ok = len(latencies)
    received = {
        k: v - received_before.get(k, 0) for k, v in transport.received.items() if v - received_before.get(k, 0)
    }
    return {
        "n": n,
        "duration_s": round(elapsed, 2),
        "batches_ok": ok,
        "errors": errors,
        "offered_batches_per_s": round(n / interval_s, 1),
        "batches_per_s": round(ok / elapsed, 1),
        "samples_per_s": round(ok * points / elapsed, 1),
        "ack_p50_ms": _r(percentile(latencies, 50)),
        "ack_p95_ms": _r(percentile(latencies, 95)),
        "ack_p99_ms": _r(percentile(latencies, 99)),
        "ack_max_ms": _r(max(latencies)) if latencies else None,
        "ack_mean_ms": _r(statistics.fmean(latencies)) if latencies else None,
        "send_lag_p99_ms": _r(percentile(lags, 99)),
        "reconnects": transport.reconnects - reconnects_before,
        "other_messages_received": received,
        "generator_cpu_s": round(gen_cpu, 2),
        "generator_cpu_pct_of_one_core": round(100 * gen_cpu / elapsed, 1),
        "generator_cpu_ms_per_acked_batch": round(1000 * gen_cpu / ok, 3) if ok else None,
        "cpu_mid_step": cpu,
    }


# ---------------------------------------------------------------------------------------------- raw reference


async def raw_cassandra(
    settings: Settings,
    seconds: float,
    concurrency: int,
    points: int,
    interval_s: float,
    activities: int = 256,
    sample_cpu: bool = True,
) -> dict[str, Any]:
    """The same per-batch rows written straight through the driver: SampleStore.write_batch (one prepared INSERT into
    `samples`, execute_async) by `concurrency` workers for `seconds`; the rows are deleted afterwards."""
    from storage.cassandra import Cassandra
    from storage.purges import DELETE_PARTITION
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
        return Track.from_arrays(
            t, lat=np.full(points, 45.0), lng=7.0 + t * 4e-5, alt=200 + np.sin(t / 60), hr=140 + 10 * np.sin(t / 90)
        )

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
    cpu, sampling_cpu = None, 0.0
    if sample_cpu and seconds >= 5:
        await asyncio.sleep(seconds / 2 - 1.5)
        cpu, sampling_cpu = await sample_cpu_aside(3.0)
    await workers
    elapsed = time.monotonic() - began
    gen_cpu = time.process_time() - cpu_before - sampling_cpu
    # clean up: these rows belong to no activity
    stmt = cas.prepare(DELETE_PARTITION)
    sem = asyncio.Semaphore(64)

    async def delete(aid: uuid.UUID, bucket: int) -> None:
        async with sem:
            with contextlib.suppress(Exception):
                await cas.execute(stmt, (aid, bucket))

    await asyncio.gather(
        *(delete(aid, b) for aid, top in zip(ids, seqs, strict=True) for b in range(live_bucket(max(top, 1)) + 1))
    )
    cas.close()
    return {
        "rows": len(latencies),
        "points_per_row": points,
        "concurrency": concurrency,
        "duration_s": round(elapsed, 2),
        "rows_per_s": round(len(latencies) / elapsed, 1),
        "samples_per_s": round(len(latencies) * points / elapsed, 1),
        "p50_ms": _r(percentile(latencies, 50)),
        "p99_ms": _r(percentile(latencies, 99)),
        "errors": errors,
        "generator_cpu_s": round(gen_cpu, 2),
        "cpu_mid_run": cpu,
        "how": "SampleStore.write_batch -> prepared INSERT, execute_async",
    }


# ---------------------------------------------------------------------------------------------- the whole run


async def run_transport(
    transport: Http | WebSockets,
    client: httpx.AsyncClient,
    pool: Pool,
    steps: list[int],
    step_seconds: float,
    points: int,
    interval_s: float,
    sample_cpu: bool,
    quiet_wait_s: float,
    raw: dict[str, Any] | None,
) -> dict[str, Any]:
    """The steps of one transport until p99 >= 1 s or errors."""
    results: list[dict[str, Any]] = []
    stopped = "every step passed"
    for n in steps:
        setup = time.monotonic()
        await grow(client, pool, n)
        opened = await transport.prepare(pool.workouts[:n])
        quiet = await wait_for_quiet(quiet_wait_s) if quiet_wait_s > 0 else None
        step = await run_step(transport, pool, n, step_seconds, points, interval_s, sample_cpu)
        step["users"] = math.ceil(n / pool.per_user)
        step["before_step"] = quiet
        if opened:
            step["sockets"] = opened
        step["setup_s"] = round(time.monotonic() - setup - step["duration_s"], 1)
        results.append(step)
        print(
            json.dumps(
                {
                    "transport": transport.name,
                    **{
                        k: step[k]
                        for k in (
                            "n",
                            "batches_per_s",
                            "samples_per_s",
                            "ack_p50_ms",
                            "ack_p99_ms",
                            "errors",
                            "reconnects",
                            "generator_cpu_pct_of_one_core",
                            "generator_cpu_ms_per_acked_batch",
                        )
                    },
                }
            ),
            flush=True,
        )
        if step["errors"]:
            stopped = f"errors at N={n}"
            break
        if not _passed(step):
            stopped = f"p99 >= {P99_LIMIT_MS:.0f} ms at N={n}"
            break
    passing = [s for s in results if _passed(s)]
    best = max(passing, key=lambda s: s["n"]) if passing else None
    peak = max((s["batches_per_s"] for s in results), default=0.0)
    target = TARGETS[transport.name]
    return {
        "steps": results,
        "stopped": stopped,
        "largest_n_with_p99_under_1s": best["n"] if best else None,
        "largest_n_is_lower_bound": bool(best) and best is results[-1],
        "at_largest_n": {
            k: best[k]
            for k in (
                "batches_per_s",
                "samples_per_s",
                "ack_p50_ms",
                "ack_p95_ms",
                "ack_p99_ms",
                "generator_cpu_ms_per_acked_batch",
            )
        }
        if best
        else None,
        "peak_acked_batches_per_s": peak,
        "peak_acked_samples_per_s": round(peak * points, 1),
        "acked_vs_raw_ratio": round(peak / raw["rows_per_s"], 4) if raw and raw["rows_per_s"] else None,
        "target_n": target,
        "meets_target": bool(best) and best["n"] >= target,
    }


async def run(
    base_url: str,
    transports: list[str],
    steps: dict[str, list[int]],
    step_seconds: float,
    points: int,
    interval_s: float,
    per_user: int,
    raw_seconds: float,
    raw_concurrency: int,
    end_how: str,
    sample_cpu: bool,
    quiet_wait_s: float = 0.0,
    ack_timeout_s: float = 30.0,
    open_concurrency: int = 64,
) -> dict[str, Any]:
    """Raw reference first, then each transport's steps; then end every workout."""
    cpu_start = time.process_time()
    wall_start = time.monotonic()
    settings = Settings()
    quiet_before_raw = await wait_for_quiet(quiet_wait_s) if quiet_wait_s > 0 else None
    raw = (
        await raw_cassandra(settings, raw_seconds, raw_concurrency, points, interval_s, sample_cpu=sample_cpu)
        if raw_seconds > 0
        else None
    )
    pool = Pool(base_url, per_user)
    out: dict[str, Any] = {}
    ws_transport: WebSockets | None = None
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=40, max_keepalive_connections=40)
    ) as client:
        refreshing = asyncio.create_task(refresher(client, pool))
        try:
            for name in transports:
                if name == "ws":
                    ws_transport = WebSockets(base_url, ack_timeout_s, open_concurrency)
                    try:
                        out["ws"] = await run_transport(
                            ws_transport,
                            client,
                            pool,
                            steps["ws"],
                            step_seconds,
                            points,
                            interval_s,
                            sample_cpu,
                            quiet_wait_s,
                            raw,
                        )
                    finally:
                        await ws_transport.close_all(pool.workouts)
                else:
                    http = Http(base_url, max(steps["http"]), interval_s)
                    try:
                        out["http"] = await run_transport(
                            http,
                            client,
                            pool,
                            steps["http"],
                            step_seconds,
                            points,
                            interval_s,
                            sample_cpu,
                            quiet_wait_s,
                            raw,
                        )
                    finally:
                        await http.close()
        finally:
            ended = await end_all(client, pool, end_how)
            refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refreshing
    http_result = out.get("http") or {}
    result: dict[str, Any] = {
        "config": {
            "transports": transports,
            "steps": steps,
            "step_seconds": step_seconds,
            "batch_points": points,
            "batch_interval_s": interval_s,
            "workouts_per_user": per_user,
            "users_registered": len(pool.accounts),
            "account_setup_s": round(pool.account_setup_s, 1),
            "token_refreshes": pool.refreshes,
            "token_refresh_errors": pool.refresh_errors,
            "p99_limit_ms": P99_LIMIT_MS,
            "end": end_how,
            "ack_timeout_s": ack_timeout_s,
            "ws_open_concurrency": open_concurrency,
            "event_loop": _loop_name(),
            "api_replicas": settings.api_replicas,
            "workout_shards": settings.workout_shards,
            "live_ws_replicas": settings.live_ws_replicas,
            "live_sample_writer": settings.live_sample_writer,
        },
        "raw_cassandra_insert": raw and {**raw, "before_run": quiet_before_raw},
        "transports": out,
        "targets": {k: {"simultaneous_workouts": v, "ack_p99_ms_under": P99_LIMIT_MS} for k, v in TARGETS.items()},
        "all_targets_met": all(out[k]["meets_target"] for k in out) if out else None,
        # the keys of the HTTP-only version of this file (the HTTP transport's figures)
        "steps": http_result.get("steps", []),
        "stopped": http_result.get("stopped"),
        "largest_n_with_p99_under_1s": http_result.get("largest_n_with_p99_under_1s"),
        "largest_n_is_lower_bound": http_result.get("largest_n_is_lower_bound"),
        "at_largest_n": http_result.get("at_largest_n"),
        "peak_acked_batches_per_s": http_result.get("peak_acked_batches_per_s"),
        "http_acked_batches_vs_raw_inserts_ratio": http_result.get("acked_vs_raw_ratio"),
        "ws_acked_batches_vs_raw_inserts_ratio": (out.get("ws") or {}).get("acked_vs_raw_ratio"),
        "end_workouts": ended,
        "generator_cpu_s_total": round(time.process_time() - cpu_start, 1),
        "wall_s_total": round(time.monotonic() - wall_start, 1),
        "note": "the load generator runs on the same machine as the server and shares its CPUs",
    }
    return result


def _passed(step: dict[str, Any]) -> bool:
    """No errors, and acks with a p99 under the limit (a step without a single ack fails)."""
    return not step["errors"] and step["ack_p99_ms"] is not None and step["ack_p99_ms"] < P99_LIMIT_MS


def _loop_name() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def _r(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, 2)


def _raise_fd_limit() -> None:
    """Thousands of sockets: the soft limit of open files up to the hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def _asyncio_run(main: Callable[[], Awaitable[Any]]) -> Any:
    """asyncio.run on uvloop when installed (a cheaper generator), else the default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())  # type: ignore[arg-type]
    return uvloop.run(main())  # type: ignore[arg-type]


def main() -> None:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--transport",
        choices=("ws", "http", "both"),
        default="both",
        help="WebSocket, plain HTTP, or both (WebSocket first; default)",
    )
    parser.add_argument("--steps", default=None, help="comma-separated N for every transport (overrides the defaults)")
    parser.add_argument("--ws-steps", default=None, help=f"N over WebSockets (default {DEFAULT_STEPS['ws']})")
    parser.add_argument("--http-steps", default=None, help=f"N for HTTP (default {DEFAULT_STEPS['http']})")
    parser.add_argument("--step-seconds", type=float, default=30.0, help="how long each step runs")
    parser.add_argument("--batch-points", type=int, default=5, help="points per batch (5 = 1 Hz over 5 s)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between a workout's batches")
    parser.add_argument("--per-user", type=int, default=40, help="simultaneous workouts per simulated user")
    parser.add_argument("--raw-seconds", type=float, default=10.0, help="raw cassandra-driver reference (0: skip)")
    parser.add_argument("--raw-concurrency", type=int, default=32, help="inserts in flight for the reference")
    parser.add_argument("--ack-timeout", type=float, default=30.0, help="a batch not acked this long is an error")
    parser.add_argument("--ws-open-concurrency", type=int, default=64, help="sockets being opened at once")
    parser.add_argument(
        "--end", choices=("finish", "delete", "none"), default="finish", help="what to do with the workouts afterwards"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="before each step wait up to this long for other processes (not this stack) to go idle",
    )
    parser.add_argument("--no-cpu-sample", action="store_true", help="skip the per-process CPU sample mid-step")
    parser.add_argument("--output", default="live", help="result name: loadtest/results/NAME.json")
    args, unknown = parser.parse_known_args()  # `make bench ARGS=...` passes the same flags to every benchmark
    if unknown:
        print(f"bench_live: ignoring {unknown}")
    transports = ["ws", "http"] if args.transport == "both" else [args.transport]

    def parse(text: str) -> list[int]:
        return [int(s) for s in text.split(",") if s.strip()]

    steps = {k: parse(getattr(args, f"{k}_steps") or args.steps or DEFAULT_STEPS[k]) for k in ("ws", "http")}
    _raise_fd_limit()
    result = _asyncio_run(
        lambda: run(
            args.url,
            transports,
            steps,
            args.step_seconds,
            args.batch_points,
            args.interval,
            args.per_user,
            args.raw_seconds,
            args.raw_concurrency,
            args.end,
            not args.no_cpu_sample,
            args.quiet_wait,
            args.ack_timeout,
            args.ws_open_concurrency,
        )
    )
    print(json.dumps(result, indent=2))
    print(write_result(args.output, result))


if __name__ == "__main__":
    main()
