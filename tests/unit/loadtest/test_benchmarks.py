"""The benchmark machinery that could break without anyone noticing: bench_live's watches (one batch in flight,
the same seq again after a refusal, errors by kind, stepping stops at the first failing step), its batches as the
server decodes them, and bench_locust's reading of Locust's CSV stats into the result (ratios to the no-op, live
samples/s). No server: a fake transport; nothing here asserts on time."""

from __future__ import annotations

import asyncio
import csv
import itertools
from pathlib import Path
from typing import Any

import pytest

from loadtest import bench_live, bench_locust


class FakeTransport:
    """Acks every batch, or refuses every `refuse_every`-th send; records what was sent."""

    name = "ws"

    def __init__(self, refuse_every: int = 0, refuse_from_n: int | None = None) -> None:
        self.refuse_every, self.refuse_from_n = refuse_every, refuse_from_n
        self.reconnects = 0
        self.received: dict[str, int] = {}
        self.sent: list[tuple[str, int]] = []
        self.outcomes: list[tuple[str, int, bool]] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight = 0
        self.n = 0

    async def prepare(self, workouts: list[bench_live.Workout]) -> dict[str, Any]:
        self.n = len(workouts)
        return {}

    async def send(self, i: int, w: bench_live.Workout, batch: dict[str, Any]) -> str | None:
        self.in_flight[w.activity_id] = self.in_flight.get(w.activity_id, 0) + 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight[w.activity_id])
        await asyncio.sleep(0)
        self.in_flight[w.activity_id] -= 1
        self.sent.append((w.activity_id, batch["seq"]))
        self.received["metrics"] = self.received.get("metrics", 0) + 1
        error = None
        if self.refuse_from_n is not None and self.n >= self.refuse_from_n:
            error = "ws 503 service_unavailable"
        elif self.refuse_every and len(self.sent) % self.refuse_every == 0:
            error = "ws 429 rate_limited"
        self.outcomes.append((w.activity_id, batch["seq"], error is None))
        return error


def _pool(n: int) -> bench_live.Pool:
    pool = bench_live.Pool("http://test", per_user=40)
    account = bench_live.Account("127.64.0.1", "u", "t", "r", 0.0, {"Authorization": "Bearer t"})
    pool.accounts.append(account)
    pool.workouts += [bench_live.Workout(f"a{i}", account, 45.0, 7.0) for i in range(n)]
    return pool


def _step(transport: FakeTransport, pool: bench_live.Pool, n: int) -> dict[str, Any]:
    return asyncio.run(
        bench_live.run_step(transport, pool, n, seconds=0.25, points=5, interval_s=0.05, sample_cpu=False)
    )


def test_every_watch_sends_consecutive_seqs_one_at_a_time() -> None:
    pool, transport = _pool(4), FakeTransport()
    step = _step(transport, pool, 4)
    assert step["errors"] == {} and step["batches_ok"] == len(transport.sent) > 4
    assert transport.max_in_flight == 1
    for w in pool.workouts:
        seqs = [seq for aid, seq in transport.sent if aid == w.activity_id]
        assert seqs == list(range(1, len(seqs) + 1)) and w.seq == len(seqs) + 1
    assert step["other_messages_received"] == {"metrics": len(transport.sent)}


def test_a_refused_batch_is_counted_by_kind_and_sent_again() -> None:
    pool, transport = _pool(3), FakeTransport(refuse_every=2)
    step = _step(transport, pool, 3)
    refused = step["errors"].get("ws 429 rate_limited", 0)
    assert refused == len(transport.sent) // 2 and step["batches_ok"] + refused == len(transport.sent)
    assert refused > 0
    for w in pool.workouts:
        mine = [(seq, ok) for aid, seq, ok in transport.outcomes if aid == w.activity_id]
        acked = [seq for seq, ok in mine if ok]
        assert acked == list(range(1, len(acked) + 1)) and w.seq == len(acked) + 1
        for (seq, ok), (next_seq, _) in itertools.pairwise(mine):
            assert next_seq == (seq + 1 if ok else seq)  # a refused batch is the next one sent


def test_stepping_stops_at_the_first_step_with_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = bench_live.Pool("http://test", per_user=40)

    async def grow(client: Any, pool: bench_live.Pool, n: int, concurrency: int = 32) -> None:
        fresh = _pool(n - len(pool.workouts))
        pool.accounts += fresh.accounts
        for i, w in enumerate(fresh.workouts, start=len(pool.workouts)):
            w.activity_id = f"a{i}"
            pool.workouts.append(w)

    monkeypatch.setattr(bench_live, "grow", grow)
    monkeypatch.setattr(bench_live, "TARGETS", {"ws": 3})
    transport = FakeTransport(refuse_from_n=4)
    raw = {"rows_per_s": 100.0}
    result = asyncio.run(
        bench_live.run_transport(
            transport,
            None,
            pool,
            [2, 3, 4, 5],
            0.25,
            5,
            0.05,  # type: ignore[arg-type]
            sample_cpu=False,
            quiet_wait_s=0,
            raw=raw,
        )
    )
    assert [s["n"] for s in result["steps"]] == [2, 3, 4]
    assert result["stopped"] == "errors at N=4"
    assert result["largest_n_with_p99_under_1s"] == 3 and result["meets_target"] is True
    assert result["largest_n_is_lower_bound"] is False
    assert result["acked_vs_raw_ratio"] == round(result["peak_acked_batches_per_s"] / 100.0, 4)


def test_a_live_batch_is_what_the_server_decodes() -> None:
    from serve_app.schemas.samples import decode_batch, to_track

    w = _pool(1).workouts[0]
    w.seq = 3
    batch = decode_batch(bench_live.orjson.dumps({"seq": w.seq, "points": w.points(5, 5.0)}))
    track, absolute = to_track(batch.points, batch.streams, None, field="points")
    assert batch.seq == 3 and len(track) == 5 and not absolute
    assert list(track.t) == [10.0, 11.0, 12.0, 13.0, 14.0]


HEADER = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    "50%",
    "66%",
    "75%",
    "80%",
    "90%",
    "95%",
    "98%",
    "99%",
    "99.9%",
    "99.99%",
    "100%",
]


def _row(kind: str, name: str, n: int, fails: int, rps: float, p50: float, p95: float, p99: float) -> list[Any]:
    return [
        kind,
        name,
        n,
        fails,
        p50,
        p50 * 1.2,
        1,
        p99 * 2,
        100,
        rps,
        fails / 60,
        p50,
        p50,
        p50,
        p50,
        p95,
        p95,
        p99,
        p99,
        p99,
        p99,
        p99 * 2,
    ]


def test_bench_locust_reads_the_stats_and_puts_reads_next_to_the_noop(tmp_path: Path) -> None:
    prefix = str(tmp_path / "stats")
    with open(f"{prefix}_stats.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        out.writerow(_row("GET", "GET /health (no-op)", 100, 0, 2.0, 10, 20, 40))
        out.writerow(_row("GET", "GET /users/{id}/stats", 200, 1, 4.0, 15, 50, 100))
        out.writerow(_row("WS", "WS samples (ack)", 300, 0, 5.0, 30, 60, 90))
        out.writerow(["", "Aggregated", 600, 1, 20, 25, 1, 200, 100, 11.0, 0.01, *["N/A"] * 11])
    stats = bench_locust.read_stats(prefix)
    assert stats["GET /users/{id}/stats"]["requests"] == 200 and stats["Aggregated"]["p99_ms"] is None
    report = {
        "counters": {"samples_acked_ws": 1500, "samples_acked_http": 500, "follower_updates": 120},
        "started_at": 1000.0,
        "stopped_at": 1100.0,
    }
    locust = {"cpu_s": 3.0, "cpu_pct_of_one_core": 5.0, "wall_s": 60.0}
    summary = bench_locust.summarise(stats, report, locust)
    read = summary["key_reads"]["GET /users/{id}/stats"]
    assert read["vs_noop"] == {"p50_ratio": 1.5, "p99_ratio": 2.5, "offered_req_per_s_ratio": 2.0}
    assert summary["live"]["samples_acked_per_s"] == {"ws": 15.0, "http": 5.0}
    assert summary["live"]["samples_acked_per_s_total"] == 20.0
    assert summary["followers"]["updates_per_s"] == 1.2
    assert summary["generator"]["cpu_ms_per_request"] == 5.0
    assert "GET /users/{id}/goals" not in summary["key_reads"]  # not in this run: not reported
