"""Locust user mix for ad-hoc load runs against a Stride API.

    .venv/bin/locust -f loadtest/locustfile.py --host http://127.0.0.1:8000              # web UI on :8089
    .venv/bin/locust -f loadtest/locustfile.py --headless -u 20 -r 5 -t 2m --host http://127.0.0.1:8000

Users (weights in brackets):
- Uploader [1]: uploads a finished 30-minute run (1,800 points) with a fresh client_id, then reads it back.
- Reader [3]: lists its activities, opens one, fetches its streams.
- LiveAthlete [3]: a watch streaming a live workout: a batch of 5 points (1 Hz GPS + HR) every 5 s, finished after
  LIVE_BATCHES batches (default 60 = 5 min) and started again; finished when the user stops.

Accounts: each Locust user needs a login, and logins are rate limited per IP (20, refilled at 0.2/s), so the users
share STRIDE_LOCUST_ACCOUNTS accounts (default 10), created on first use; a refused login waits for its Retry-After.
Each account's API bucket refills at 10 requests/s, so keep about <= 40 live athletes per account.

Bounded run time: without -t/--run-time the run stops by itself after STRIDE_LOCUST_MAX_S seconds (default 600).
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import random
import time
import uuid
from typing import Any

import gevent
from gevent.lock import Semaphore
from locust import HttpUser, between, constant_pacing, events, task

ACCOUNTS = int(os.environ.get("STRIDE_LOCUST_ACCOUNTS", "10"))
MAX_RUN_S = float(os.environ.get("STRIDE_LOCUST_MAX_S", "600"))
LIVE_BATCHES = int(os.environ.get("STRIDE_LOCUST_LIVE_BATCHES", "60"))
PASSWORD = "locust-password-123"
EARTH_R = 6_371_008.8

_accounts: dict[int, dict[str, Any]] = {}
_account_locks = {i: Semaphore() for i in range(ACCOUNTS)}
_next_account = itertools.count()


@events.test_start.add_listener
def _bound_run_time(environment: Any, **_: Any) -> None:
    """Stop the run after MAX_RUN_S unless a run time was given."""
    options = getattr(environment, "parsed_options", None)
    if options is not None and getattr(options, "run_time", None):
        return
    runner = environment.runner
    if runner is not None:
        gevent.spawn_later(MAX_RUN_S, runner.quit)


def _track(start_s: float, n: int, lat0: float, lng0: float, speed: float = 3.0) -> list[dict[str, Any]]:
    """n points, 1 s apart, running east at `speed` m/s, with altitude and heart rate."""
    pts = []
    for i in range(n):
        t = start_s + i
        pts.append({"time": t, "lat": lat0,
                    "lng": lng0 + math.degrees(speed * t / (EARTH_R * math.cos(math.radians(lat0)))),
                    "altitude": 200.0 + 5 * math.sin(t / 60), "heart_rate": 140.0 + 10 * math.sin(t / 90)})
    return pts


def _login(client: Any, email: str) -> str:
    for _ in range(60):
        with client.post("/auth/login", json={"email": email, "password": PASSWORD}, name="/auth/login",
                         catch_response=True) as r:
            if r.status_code == 200:
                return r.json()["access_token"]
            if r.status_code == 429:
                r.success()  # expected when many users start at once: wait and retry
                gevent.sleep(float(r.headers.get("Retry-After", "5")))
                continue
            r.failure(f"login {r.status_code}")
            raise RuntimeError(f"login failed: {r.status_code}")
    raise RuntimeError("login kept being rate limited")


def account(client: Any) -> dict[str, Any]:
    """A shared account (created and logged in on first use): {user_id, headers, email}."""
    i = next(_next_account) % ACCOUNTS
    with _account_locks[i]:
        acc = _accounts.get(i)
        if acc is None:
            email = f"locust-{uuid.uuid4().hex[:12]}@example.com"
            # 202 whether or not the email was taken (the answer never says): log in, then read the id. At most
            # STRIDE_RATE_REGISTER_IP_CAPACITY (10) registrations per address fit in a burst: keep ACCOUNTS <= 10
            r = client.post("/users", json={"email": email, "password": PASSWORD, "name": f"locust {i}"}, name="/users")
            r.raise_for_status()
            headers = {"Authorization": f"Bearer {_login(client, email)}"}
            me = client.get("/users/me", headers=headers, name="/users/me")
            me.raise_for_status()
            acc = {"user_id": me.json()["user_id"], "email": email, "headers": headers, "logged_in": time.monotonic()}
            _accounts[i] = acc
        elif time.monotonic() - acc["logged_in"] > 600:  # access tokens live 15 min
            acc["headers"] = {"Authorization": f"Bearer {_login(client, acc['email'])}"}
            acc["logged_in"] = time.monotonic()
        return acc


class StrideUser(HttpUser):
    """Common: a shared account."""

    abstract = True

    def on_start(self) -> None:
        self.acc = account(self.client)

    @property
    def headers(self) -> dict[str, str]:
        return self.acc["headers"]


class Uploader(StrideUser):
    """Uploads finished workouts and reads them back."""

    weight = 1
    wait_time = between(5, 15)

    @task
    def upload(self) -> None:
        body = {"type": "running", "client_id": f"locust-{uuid.uuid4()}",
                "start_time": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
                "data_points": _track(0.0, 1800, 46.05 + random.uniform(-0.1, 0.1), 14.5)}
        r = self.client.post("/activities", data=json.dumps(body), name="/activities [upload 1800 pts]",
                             headers={**self.headers, "Content-Type": "application/json"})
        if r.status_code == 201:
            aid = r.json()["activity_id"]
            self.client.get(f"/activities/{aid}", headers=self.headers, name="/activities/{id}")


class Reader(StrideUser):
    """Browses the feed: list, one activity, its streams."""

    weight = 3
    wait_time = between(1, 3)

    @task
    def browse(self) -> None:
        r = self.client.get(f"/users/{self.acc['user_id']}/activities?limit=20", headers=self.headers,
                            name="/users/{id}/activities")
        items = r.json().get("items", []) if r.status_code == 200 else []
        if not items:
            return
        aid = random.choice(items)["activity_id"]
        self.client.get(f"/activities/{aid}", headers=self.headers, name="/activities/{id}")
        self.client.get(f"/activities/{aid}/streams", headers=self.headers, name="/activities/{id}/streams")


class LiveAthlete(StrideUser):
    """A watch: one batch of 5 points every 5 s; a workout lasts LIVE_BATCHES batches."""

    weight = 3
    wait_time = constant_pacing(5)

    def on_start(self) -> None:
        super().on_start()
        self.activity_id: str | None = None
        self.seq = 1
        self.lat0, self.lng0 = 45.0 + random.uniform(-1, 1), 7.0 + random.uniform(-1, 1)

    def _start(self) -> None:
        r = self.client.post("/activities/start", json={"type": "running", "client_id": f"locust-live-{uuid.uuid4()}"},
                             headers=self.headers, name="/activities/start")
        if r.status_code in (200, 201):
            self.activity_id, self.seq = r.json()["activity_id"], 1

    def _finish(self) -> None:
        if self.activity_id:
            self.client.post(f"/activities/{self.activity_id}/finish", headers=self.headers,
                             name="/activities/{id}/finish")
            self.activity_id = None

    @task
    def batch(self) -> None:
        if self.activity_id is None:
            self._start()
            if self.activity_id is None:
                return
        points = _track((self.seq - 1) * 5.0, 5, self.lat0, self.lng0)
        r = self.client.post(f"/activities/{self.activity_id}/samples", json={"seq": self.seq, "points": points},
                             headers=self.headers, name="/activities/{id}/samples")
        if r.status_code == 200:
            self.seq += 1  # a refused batch is sent again next time, as a watch would
        if self.seq > LIVE_BATCHES:
            self._finish()

    def on_stop(self) -> None:
        self._finish()
