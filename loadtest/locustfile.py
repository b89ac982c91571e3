"""Locust scenarios: the real Stride mix, the way an operator runs a load test.

    .venv/bin/locust -f loadtest/locustfile.py --host http://127.0.0.1:8000                  # web UI on :8089
    .venv/bin/locust -f loadtest/locustfile.py --headless -u 200 -r 20 -t 60s --host http://127.0.0.1:8000
    .venv/bin/python -m loadtest.bench_locust --url http://127.0.0.1:8000                     # what `make bench` runs

Users (weights in brackets; all `FastHttpUser`, so HTTP goes through geventhttpclient):
- MobileUser [10]: the app: every 2-6 s one of upload a finished activity [1] (a 30-minute run or a 1-hour ride at
  1 Hz, as columnar `streams` 4 times in 5, as `data_points` otherwise; a fresh client_id each time), list its
  activities [3], open one [3], its stats [2], its goals [1].
- LiveTracker [6]: a watch: starts a live workout (`POST /activities/start`), shares it one time in two (the link
  goes to the followers' pool), sends a 5-point batch (columnar) every 5 s and waits for its ack, over the owner
  WebSocket (`WS /ws/activities/{id}/live`, token in the subprotocol), every fifth tracker over plain HTTP; finishes
  after STRIDE_LOCUST_LIVE_BATCHES batches (default 24 = 2 minutes) and starts another.
- Follower [3]: opens a shared workout's socket (`?share=`) and receives its metrics for 20-40 s, then follows
  another; each update is a request event timed from the tracker sending the batch to the follower seeing it.
- Noop [1]: `GET /health` at the mobile users' pace: the same-run reference for the reads' latencies.

WebSockets use `websocket-client` (plain sockets, which Locust's gevent monkey-patching makes cooperative); every
message round trip is a Locust request event (type `WS`), so it appears in the stats next to the HTTP requests:
`WS connect owner`, `WS samples (ack)`, `WS connect follower`, `WS follower update (sent->seen)`.

Accounts: registration and login are rate limited per client address (and sockets are capped per address), so the
accounts are made before the users start, each registered and logged in from its own loopback source address
(127.64.0.0/10): by `loadtest.bench_locust` (passed in STRIDE_LOCUST_ACCOUNTS_FILE) or, without it, in the
`test_start` hook here (httpx, STRIDE_LOCUST_USERS_PER_ACCOUNT users per account, default 8: the per-user API limit is
10 requests/s). Locust users then only use tokens (refreshed before they expire); an owner's sockets leave from its
account's address, a follower's from a random one.

At the end (`test_stop`) every workout still live is finished over HTTP, and, when STRIDE_LOCUST_REPORT names a file,
the counters Locust's stats do not hold are written there as JSON (samples acked by transport, follower updates,
reconnects, uploads by form, workouts started and finished). Without -t/--run-time the run stops by itself after
STRIDE_LOCUST_MAX_S seconds (default 600).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import math
import os
import random
import socket
import time
import uuid
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import gevent
import orjson
from gevent.pool import Pool
from locust import FastHttpUser, between, constant, events, task

USERS_PER_ACCOUNT = int(os.environ.get("STRIDE_LOCUST_USERS_PER_ACCOUNT", "8"))
MAX_RUN_S = float(os.environ.get("STRIDE_LOCUST_MAX_S", "600"))
LIVE_BATCHES = int(os.environ.get("STRIDE_LOCUST_LIVE_BATCHES", "24"))
ACCOUNTS_FILE = os.environ.get("STRIDE_LOCUST_ACCOUNTS_FILE")
REPORT_FILE = os.environ.get("STRIDE_LOCUST_REPORT")
WS_SHARE = 0.8  # live trackers on the WebSocket: every fifth one is on HTTP
STREAMS_SHARE = 0.8  # uploads as columnar streams (the rest as data_points)
SHARE_PROB = 0.5  # live workouts shared with followers
PASSWORD = "locust-password-123"
EARTH_R = 6_371_008.8
BATCH_POINTS, BATCH_INTERVAL_S = 5, 5.0


# ---------------------------------------------------------------------------------------------- shared state


class Counters:
    """What Locust's request stats do not hold, written to STRIDE_LOCUST_REPORT at the end."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    def add(self, key: str, n: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + n  # greenlets: no preemption between read and write


COUNTERS = Counters()
ACCOUNTS: list[dict[str, Any]] = []
_next_account = itertools.count()
_next_tracker = itertools.count()
SHARES: list[tuple[str, str]] = []  # (activity_id, share token) of live workouts being followed
SENT_AT: dict[str, deque[tuple[int, float]]] = {}  # activity_id -> (points received after the batch, when sent)
LIVE: dict[str, dict[str, Any]] = {}  # activity_id -> account of every workout still live


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _spread_address() -> str:
    return f"127.{random.randint(64, 127)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _account_from_login(email: str, ip: str, tokens: dict[str, Any]) -> dict[str, Any]:
    import jwt

    user_id = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
    return {
        "email": email,
        "ip": ip,
        "user_id": user_id,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": time.time() + float(tokens.get("expires_in") or 900),
        "headers": {"Authorization": f"Bearer {tokens['access_token']}"},
    }


def _make_account(host: str) -> dict[str, Any]:
    """Register and log in from one fresh loopback address (retrying a 429 from another one)."""
    import httpx

    email = f"locust-{uuid.uuid4().hex[:12]}@example.com"
    registered = False
    for _ in range(8):
        ip = _spread_address()
        with httpx.Client(base_url=host, timeout=60, transport=httpx.HTTPTransport(local_address=ip)) as c:
            if not registered:
                r = c.post("/users", json={"email": email, "password": PASSWORD, "name": "locust athlete"})
                if r.status_code in (429, 503):
                    gevent.sleep(min(float(r.headers.get("Retry-After", "1")), 30))
                    continue
                r.raise_for_status()
                registered = True
            r = c.post("/auth/login", json={"email": email, "password": PASSWORD})
            if r.status_code in (429, 503):
                gevent.sleep(min(float(r.headers.get("Retry-After", "1")), 30))
                continue
            r.raise_for_status()
            return _account_from_login(email, ip, r.json())
    raise RuntimeError("could not register and log in a Locust account")


def _seed(host: str, account: dict[str, Any]) -> None:
    """One uploaded ride and two goals, so that the reads have something to read."""
    import httpx

    with httpx.Client(base_url=host, timeout=60) as c:
        c.post("/activities", content=upload_body("streams", 1800), headers=_json_headers(account)).raise_for_status()
        for goal_type, target in (("weekly_distance", 30000), ("monthly_count", 12)):
            c.post(
                "/goals",
                headers=account["headers"],
                json={
                    "user_id": account["user_id"],
                    "goal_type": goal_type,
                    "target_value": target,
                    "start_date": str(dt.date.today()),
                },
            )


def _json_headers(account: dict[str, Any]) -> dict[str, str]:
    return {**account["headers"], "Content-Type": "application/json"}


def _refresh_tokens(host: str) -> None:
    """Refresh every account's access token 3 minutes before it expires (they live 15 minutes)."""
    import httpx

    with httpx.Client(base_url=host, timeout=30) as c:
        while True:
            gevent.sleep(20)
            for account in ACCOUNTS:
                if account["expires_at"] - time.time() > 180:
                    continue
                try:
                    r = c.post("/auth/refresh", json={"refresh_token": account["refresh_token"]})
                    r.raise_for_status()
                except httpx.HTTPError:
                    COUNTERS.add("token_refresh_errors")
                    continue
                fresh = _account_from_login(account["email"], account["ip"], r.json())
                account.update({k: fresh[k] for k in ("access_token", "refresh_token", "expires_at")})
                account["headers"]["Authorization"] = fresh["headers"]["Authorization"]
                COUNTERS.add("token_refreshes")


@events.test_start.add_listener
def _test_start(environment: Any, **_: Any) -> None:
    """Accounts before any user starts (from STRIDE_LOCUST_ACCOUNTS_FILE, or made here from spread addresses), the
    token refresher, and the run-time bound."""
    host = environment.host or ""
    if not ACCOUNTS:
        if ACCOUNTS_FILE:
            with open(ACCOUNTS_FILE) as f:
                for account in json.load(f):
                    account.setdefault("headers", {"Authorization": f"Bearer {account['access_token']}"})
                    ACCOUNTS.append(account)
        else:
            options = getattr(environment, "parsed_options", None)
            users = int(getattr(options, "num_users", None) or 20)
            n = max(1, math.ceil(users / USERS_PER_ACCOUNT))
            made = Pool(8).map(lambda _: _make_account(host), range(n))
            Pool(8).map(lambda a: _seed(host, a), made)
            ACCOUNTS.extend(made)
    gevent.spawn(_refresh_tokens, host)
    COUNTERS.started_at = time.time()
    options = getattr(environment, "parsed_options", None)
    if environment.runner is not None and not (options is not None and getattr(options, "run_time", None)):
        gevent.spawn_later(MAX_RUN_S, environment.runner.quit)


@events.test_stop.add_listener
def _test_stop(environment: Any, **_: Any) -> None:
    """Finish every workout still live (16 at a time), then write the counters."""
    import httpx

    COUNTERS.stopped_at = time.time()
    began = time.monotonic()
    with httpx.Client(base_url=environment.host or "", timeout=120) as c:

        def finish(item: tuple[str, dict[str, Any]]) -> None:
            activity_id, account = item
            try:
                r = c.post(f"/activities/{activity_id}/finish", headers=account["headers"])
                COUNTERS.add("workouts_finished_at_stop" if r.status_code == 200 else f"finish_at_stop_{r.status_code}")
            except httpx.HTTPError as exc:
                COUNTERS.add(f"finish_at_stop_{type(exc).__name__}")

        Pool(16).map(finish, list(LIVE.items()))
    LIVE.clear()
    if REPORT_FILE:
        report = {
            "counters": dict(sorted(COUNTERS.values.items())),
            "started_at": COUNTERS.started_at,
            "stopped_at": COUNTERS.stopped_at,
            "finish_at_stop_s": round(time.monotonic() - began, 2),
            "accounts": len(ACCOUNTS),
            "live_batches_per_workout": LIVE_BATCHES,
            "batch_points": BATCH_POINTS,
            "ws_share": WS_SHARE,
            "streams_share": STREAMS_SHARE,
            "weights": {c.__name__: c.weight for c in (MobileUser, LiveTracker, Follower, Noop)},
        }
        with open(REPORT_FILE, "w") as f:
            json.dump(report, f, indent=2)


def next_account() -> dict[str, Any]:
    if not ACCOUNTS:
        raise RuntimeError("no accounts (test_start did not run)")
    return ACCOUNTS[next(_next_account) % len(ACCOUNTS)]


# ---------------------------------------------------------------------------------------------- bodies


def _route(seconds: int, speed: float, lat0: float, lng0: float) -> dict[str, list[float]]:
    t = [float(i) for i in range(seconds)]
    coslat = math.cos(math.radians(lat0))
    return {
        "time": t,
        "lat": [lat0 + math.degrees(30 * math.sin(i / 300) / EARTH_R) for i in t],
        "lng": [lng0 + math.degrees(speed * i / (EARTH_R * coslat)) for i in t],
        "altitude": [200.0 + 20 * math.sin(i / 300) for i in t],
        "heart_rate": [140.0 + 10 * math.sin(i / 60) for i in t],
        "cadence": [170.0 if speed < 5 else 88.0 for _ in t],
    }


_ROUTES = {1800: ("running", _route(1800, 3.2, 46.05, 14.5)), 3600: ("cycling", _route(3600, 8.0, 45.0, 7.0))}
# the columnar part pre-encoded once: a mobile user's upload costs the generator a splice, not 3,600 objects
_STREAMS_JSON = {n: orjson.dumps(streams) for n, (_, streams) in _ROUTES.items()}
_POINTS_JSON = {
    n: orjson.dumps([dict(zip(streams, values, strict=True)) for values in zip(*streams.values(), strict=True)])
    for n, (_, streams) in _ROUTES.items()
}


def upload_body(form: str, points: int) -> bytes:
    """A finished activity: `points` 1 Hz samples as `streams` or `data_points`, a fresh client_id."""
    sport = _ROUTES[points][0]
    head = orjson.dumps({"type": sport, "start_time": _now_iso(), "client_id": f"locust-{uuid.uuid4()}"})[:-1]
    if form == "streams":
        return head + b',"streams":' + _STREAMS_JSON[points] + b"}"
    return head + b',"data_points":' + _POINTS_JSON[points] + b"}"


def live_batch(seq: int, lat0: float, lng0: float) -> dict[str, Any]:
    """Batch `seq` of a run at 3 m/s: 5 columnar samples, 1 s apart."""
    t0 = (seq - 1) * BATCH_INTERVAL_S
    t = [t0 + i for i in range(BATCH_POINTS)]
    coslat = math.cos(math.radians(lat0))
    return {
        "seq": seq,
        "streams": {
            "time": t,
            "lat": [lat0] * BATCH_POINTS,
            "lng": [lng0 + math.degrees(3.0 * x / (EARTH_R * coslat)) for x in t],
            "altitude": [200.0 + 5 * math.sin(x / 60) for x in t],
            "heart_rate": [140.0 + 10 * math.sin(x / 90) for x in t],
        },
    }


# ---------------------------------------------------------------------------------------------- WebSockets


def _fire(environment: Any, name: str, started: float, length: int = 0, exception: Exception | None = None) -> None:
    environment.events.request.fire(
        request_type="WS",
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=length,
        exception=exception,
        context={},
    )


def ws_open(host: str, path: str, source: str, subprotocols: list[str] | None = None, timeout: float = 30) -> Any:
    """A websocket-client connection to host+path leaving from loopback address `source` (a gevent-cooperative
    socket: Locust monkey-patches `socket`)."""
    from websocket import create_connection

    parts = urlsplit(host)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    scheme = "wss" if parts.scheme == "https" else "ws"
    try:
        return create_connection(
            f"{scheme}://{parts.netloc}{path}", socket=sock, subprotocols=subprotocols, timeout=timeout
        )
    except BaseException:
        sock.close()
        raise


class WsError(Exception):
    pass


# ---------------------------------------------------------------------------------------------- users


class StrideUser(FastHttpUser):
    """Common: an account from the pool (its tokens), the JSON headers."""

    abstract = True
    network_timeout = 60.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        self.account = next_account()

    @property
    def headers(self) -> dict[str, str]:
        return self.account["headers"]


class MobileUser(StrideUser):
    """The app: uploads now and then, mostly reads."""

    weight = 10
    wait_time = between(2, 6)

    def on_start(self) -> None:
        super().on_start()
        self.known: list[str] = []

    @task(1)
    def upload(self) -> None:
        form = "streams" if random.random() < STREAMS_SHARE else "data_points"
        points = random.choice((1800, 3600))
        with self.client.post(
            "/activities",
            data=upload_body(form, points),
            headers=_json_headers(self.account),
            name=f"POST /activities [{form}, {points} pts]",
            catch_response=True,
        ) as r:
            if r.status_code == 201:
                self.known.append(r.json()["activity_id"])
                del self.known[:-20]
                COUNTERS.add(f"uploads_{form}")
            else:
                r.failure(f"{r.status_code}")

    @task(3)
    def list_activities(self) -> None:
        r = self.client.get(
            f"/users/{self.account['user_id']}/activities?limit=20",
            headers=self.headers,
            name="GET /users/{id}/activities",
        )
        if r.status_code == 200:
            items = r.json().get("items", [])
            if items:
                self.known = [i["activity_id"] for i in items]

    @task(3)
    def open_activity(self) -> None:
        if not self.known:
            self.list_activities()
            if not self.known:
                return
        self.client.get(f"/activities/{random.choice(self.known)}", headers=self.headers, name="GET /activities/{id}")

    @task(2)
    def stats(self) -> None:
        self.client.get(f"/users/{self.account['user_id']}/stats", headers=self.headers, name="GET /users/{id}/stats")

    @task(1)
    def goals(self) -> None:
        self.client.get(f"/users/{self.account['user_id']}/goals", headers=self.headers, name="GET /users/{id}/goals")


class Noop(StrideUser):
    """The same-run reference: `GET /health` (no auth, no storage) at the mobile users' pace."""

    weight = 1
    wait_time = between(2, 6)

    @task
    def health(self) -> None:
        self.client.get("/health", name="GET /health (no-op)")


class LiveTracker(StrideUser):
    """A watch streaming a live workout: a batch every 5 s, one in flight, over the owner socket or HTTP."""

    weight = 6
    wait_time = constant(0)  # the task paces itself

    def on_start(self) -> None:
        super().on_start()
        self.ws: Any = None
        self.ws_token: str | None = None
        self.activity_id: str | None = None
        self.share: tuple[str, str] | None = None
        self.seq = 1
        self.use_ws = next(_next_tracker) % 5 != 4  # WS_SHARE, deterministic: every fifth tracker on HTTP
        self.lat0, self.lng0 = 45.0 + random.uniform(-1, 1), 7.0 + random.uniform(-1, 1)
        gevent.sleep(random.uniform(0, BATCH_INTERVAL_S))  # watches do not start in step

    def _start(self) -> bool:
        r = self.client.post(
            "/activities/start",
            json={"type": "running", "client_id": f"locust-live-{uuid.uuid4()}"},
            headers=self.headers,
            name="POST /activities/start",
        )
        if r.status_code not in (200, 201):
            return False
        self.activity_id, self.seq, self.share = r.json()["activity_id"], 1, None
        LIVE[self.activity_id] = self.account
        COUNTERS.add("workouts_started")
        SENT_AT[self.activity_id] = deque(maxlen=8)
        if random.random() < SHARE_PROB:
            s = self.client.post(
                f"/activities/{self.activity_id}/share", headers=self.headers, name="POST /activities/{id}/share"
            )
            if s.status_code == 201:
                self.share = (self.activity_id, s.json()["token"])
                SHARES.append(self.share)
        return True

    def _finish(self) -> None:
        activity_id, self.activity_id = self.activity_id, None
        if activity_id is None:
            return
        if self.share in SHARES:
            SHARES.remove(self.share)
        self._close_ws()
        r = self.client.post(
            f"/activities/{activity_id}/finish", headers=self.headers, name="POST /activities/{id}/finish"
        )
        if r.status_code == 200:
            LIVE.pop(activity_id, None)
            COUNTERS.add("workouts_finished")
        SENT_AT.pop(activity_id, None)

    def _close_ws(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            with contextlib.suppress(Exception):  # already gone
                ws.close(timeout=1)

    def _connect(self) -> None:
        started = time.perf_counter()
        token = self.account["access_token"]
        try:
            ws = ws_open(
                self.host,
                f"/ws/activities/{self.activity_id}/live",
                self.account["ip"],
                ["stride.v1", f"bearer.{token}"],
            )
            first = orjson.loads(ws.recv())
            if first.get("type") != "metrics":
                ws.close()
                raise WsError(f"first message {first.get('type')}")
        except Exception as exc:
            _fire(self.environment, "WS connect owner", started, exception=exc)
            raise
        _fire(self.environment, "WS connect owner", started)
        self.ws, self.ws_token = ws, token
        COUNTERS.add("ws_owner_connects")

    def _send_ws(self, batch: dict[str, Any]) -> bool:
        if self.ws is None:
            try:
                self._connect()
            except Exception:  # noqa: BLE001 - reported; retried next batch
                return False
        elif self.ws_token != self.account["access_token"]:  # refreshed: hand the socket the new token
            self.ws_token = self.account["access_token"]
            self.ws.send(orjson.dumps({"type": "auth", "token": self.ws_token}).decode())
        started = time.perf_counter()
        message = orjson.dumps({"type": "samples", **batch})
        try:
            self.ws.send(message.decode())
            while True:
                reply = orjson.loads(self.ws.recv())
                kind = reply.get("type")
                if kind == "ack" and reply.get("seq") == batch["seq"]:
                    _fire(self.environment, "WS samples (ack)", started, len(message))
                    return True
                if kind == "error" and reply.get("seq") in (batch["seq"], None):
                    raise WsError(f"{reply.get('status')} {reply.get('code')}")
                if kind in ("finished", "discarded"):
                    raise WsError(kind)
                COUNTERS.add(f"ws_owner_{kind}_messages")
        except Exception as exc:  # noqa: BLE001 - reported as a failed request
            _fire(self.environment, "WS samples (ack)", started, len(message), exc)
            if not isinstance(exc, WsError):
                self._close_ws()
                COUNTERS.add("ws_owner_reconnects")
            return False

    def _send_http(self, batch: dict[str, Any]) -> bool:
        r = self.client.post(
            f"/activities/{self.activity_id}/samples",
            data=orjson.dumps(batch),
            headers=_json_headers(self.account),
            name="POST /activities/{id}/samples",
        )
        return r.status_code == 200

    @task
    def stream(self) -> None:
        if self.activity_id is None and not self._start():
            gevent.sleep(BATCH_INTERVAL_S)
            return
        due = time.monotonic() + BATCH_INTERVAL_S
        batch = live_batch(self.seq, self.lat0, self.lng0)
        sent = SENT_AT.get(self.activity_id or "")
        if sent is not None:
            sent.append((self.seq * BATCH_POINTS, time.perf_counter()))
        if self._send_ws(batch) if self.use_ws else self._send_http(batch):
            transport = "ws" if self.use_ws else "http"
            COUNTERS.add(f"batches_acked_{transport}")
            COUNTERS.add(f"samples_acked_{transport}", BATCH_POINTS)
            self.seq += 1  # a refused batch is sent again, as a watch would
        if self.seq > LIVE_BATCHES:
            self._finish()
        gevent.sleep(max(0.0, due - time.monotonic()))

    def on_stop(self) -> None:
        # the workout stays in LIVE: test_stop finishes every one left, 16 at a time
        self._close_ws()
        share = getattr(self, "share", None)
        if share in SHARES:
            SHARES.remove(share)


class Follower(StrideUser):
    """Follows a shared live workout for 20-40 s (read-only socket), then another."""

    weight = 3
    wait_time = between(1, 3)

    @task
    def follow(self) -> None:
        if not SHARES:
            return
        activity_id, token = random.choice(SHARES)
        started = time.perf_counter()
        try:
            ws = ws_open(self.host, f"/ws/activities/{activity_id}/live?share={token}", _spread_address())
            first = orjson.loads(ws.recv())
            if first.get("type") != "metrics":
                raise WsError(f"first message {first.get('type')}")
        except Exception as exc:  # noqa: BLE001 - reported as a failed request
            _fire(self.environment, "WS connect follower", started, exception=exc)
            return
        _fire(self.environment, "WS connect follower", started)
        COUNTERS.add("ws_follower_connects")
        until = time.monotonic() + random.uniform(20, 40)
        try:
            while time.monotonic() < until:
                ws.settimeout(max(0.1, until - time.monotonic()))
                try:
                    raw = ws.recv()
                except Exception:  # noqa: BLE001 - the timeout ends the watch; a close too
                    break
                seen = time.perf_counter()
                message = orjson.loads(raw)
                kind = message.get("type")
                if kind in ("finished", "discarded"):
                    COUNTERS.add("follower_saw_end")
                    break
                if kind != "metrics":
                    continue
                COUNTERS.add("follower_updates")
                for points, at in SENT_AT.get(activity_id, ()):
                    if points == message.get("points_received"):
                        self.environment.events.request.fire(
                            request_type="WS",
                            name="WS follower update (sent->seen)",
                            response_time=(seen - at) * 1000,
                            response_length=len(raw),
                            exception=None,
                            context={},
                        )
                        break
        finally:
            with contextlib.suppress(Exception):  # already gone
                ws.close(timeout=1)
