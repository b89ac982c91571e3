"""Benchmark: the Locust scenarios (loadtest/locustfile.py: mobile users, live trackers over WebSocket and HTTP,
followers of share links, a no-op reference) run headless and bounded, the way an operator runs a load test.

1. Accounts are made first, outside the timed run: ceil(users / --users-per-account) users, each registered and
   logged in from its own loopback source address (registration and login are rate limited per client address),
   each with one uploaded 30-minute run and two goals so the reads have something to read. They are handed to
   Locust in a temporary file (STRIDE_LOCUST_ACCOUNTS_FILE), deleted afterwards.
2. `locust --headless -u USERS -r SPAWN_RATE -t RUN_TIME --csv ...` runs as a subprocess; a `top`-like CPU sample per
   process is taken in its middle, and its own CPU (user + system, from the kernel's accounting of the child) is the
   generator's CPU.
3. loadtest/results/locust.json: per request name (HTTP routes and the WebSocket round trips Locust records as
   request events) req/s, p50/p95/p99, failures; totals; live samples acked per second by transport (from the
   locustfile's counters, STRIDE_LOCUST_REPORT); follower updates received; the generator's CPU; and each key read
   next to the no-op `GET /health` measured by the same users in the same run.

Ratios: in a closed-loop mix with wait times, every name's req/s is set by the task weights and the wait times (the
offered load), not by what the server could carry, so a req/s ratio to the no-op measures the mix, not capacity (the
capacity ratios, read req/s : no-op req/s at saturation, are bench_reads'). What the mix does measure is each read's
latency next to the no-op's under the same load: `vs_noop.p50_ratio` / `p99_ratio`.

    python -m loadtest.bench_locust [--url http://127.0.0.1:8000] [--users 200] [--spawn-rate 20] [--run-time 60]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from loadtest.harness import cpu_sample, new_account, wait_for_quiet, write_result

ROOT = Path(__file__).resolve().parent.parent
KEY_READS = ("GET /activities/{id}", "GET /users/{id}/activities", "GET /users/{id}/stats", "GET /users/{id}/goals")
NOOP = "GET /health (no-op)"
RATIO_NOTE = (
    "In this closed-loop mix each name's req/s is set by the task weights and wait times (offered load), so req/s "
    "ratios to the no-op measure the mix, not capacity (capacity ratios at saturation: bench_reads, wrk). The "
    "latency ratios compare each read with the no-op answered by the same stack under the same load."
)


async def make_accounts(base_url: str, n: int, concurrency: int = 8) -> list[dict[str, Any]]:
    """n users from spread loopback addresses, each with one uploaded run and two goals."""
    from loadtest.bench_activities import bodies  # not the locustfile: importing locust monkey-patches with gevent

    ride = bodies()["streams"]  # a 3,600-point ride as columnar streams, no client_id
    sem = asyncio.Semaphore(concurrency)
    taken: set[str] = set()

    async def one() -> dict[str, Any]:
        async with sem:
            acc = await new_account(base_url, "locust", taken=taken)
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as c:
                r = await c.post(
                    "/activities", content=ride, headers={**acc["headers"], "Content-Type": "application/json"}
                )
                r.raise_for_status()
                for goal_type, target in (("weekly_distance", 30000), ("monthly_count", 12)):
                    await c.post(
                        "/goals",
                        headers=acc["headers"],
                        json={
                            "user_id": acc["user_id"],
                            "goal_type": goal_type,
                            "target_value": target,
                            "start_date": time.strftime("%Y-%m-%d", time.gmtime()),
                        },
                    )
            acc["expires_at"] = time.time() + acc["expires_in"] - 5
            return acc

    return list(await asyncio.gather(*(one() for _ in range(n))))


def run_locust(
    url: str, users: int, spawn_rate: float, run_time_s: int, csv_prefix: str, env: dict[str, str], log_path: str
) -> dict[str, Any]:
    """locust headless as a child process; its exit code, wall time and CPU (wait4 rusage)."""
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "loadtest" / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{run_time_s}s",
        "--host",
        url,
        "--csv",
        csv_prefix,
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    with open(log_path, "w") as log:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 2),
        "cpu_pct_of_one_core": round(100 * cpu / wall, 1),
        "command": " ".join(cmd[1:]),
    }


def _num(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def read_stats(csv_prefix: str) -> dict[str, dict[str, Any]]:
    """Locust's <prefix>_stats.csv: one row per (type, name) and the Aggregated row."""
    rows: dict[str, dict[str, Any]] = {}
    with open(f"{csv_prefix}_stats.csv", newline="") as f:
        for row in csv.DictReader(f):
            rows[row["Name"]] = {
                "type": row["Type"] or None,
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "req_per_s": _round(_num(row["Requests/s"]), 2),
                "failures_per_s": _round(_num(row["Failures/s"]), 3),
                "p50_ms": _num(row["50%"]),
                "p95_ms": _num(row["95%"]),
                "p99_ms": _num(row["99%"]),
                "max_ms": _num(row["Max Response Time"]),
                "mean_ms": round(_num(row["Average Response Time"]) or 0.0, 2),
                "mean_bytes": round(_num(row["Average Content Size"]) or 0.0, 1),
            }
    return rows


def read_failures(csv_prefix: str) -> list[dict[str, Any]]:
    path = Path(f"{csv_prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [
            {"method": r["Method"], "name": r["Name"], "error": r["Error"][:200], "occurrences": int(r["Occurrences"])}
            for r in csv.DictReader(f)
        ]


def _ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def summarise(stats: dict[str, dict[str, Any]], report: dict[str, Any], locust: dict[str, Any]) -> dict[str, Any]:
    """Totals, live samples/s, follower updates, the reads next to the no-op, the generator's CPU."""
    counters = report.get("counters", {})
    window = (report.get("stopped_at") or 0) - (report.get("started_at") or 0)
    total = stats.get("Aggregated", {})
    noop = stats.get(NOOP)
    reads = {}
    for name in KEY_READS:
        s = stats.get(name)
        if not s:
            continue
        reads[name] = {
            "req_per_s": s["req_per_s"],
            "p50_ms": s["p50_ms"],
            "p95_ms": s["p95_ms"],
            "p99_ms": s["p99_ms"],
            "failures": s["failures"],
            "vs_noop": {
                "p50_ratio": _ratio(s["p50_ms"], noop and noop["p50_ms"]),
                "p99_ratio": _ratio(s["p99_ms"], noop and noop["p99_ms"]),
                "offered_req_per_s_ratio": _ratio(s["req_per_s"], noop and noop["req_per_s"]),
            },
        }
    acked = {t: counters.get(f"samples_acked_{t}", 0) for t in ("ws", "http")}
    requests = total.get("requests", 0)
    return {
        "totals": {k: total.get(k) for k in ("requests", "failures", "req_per_s", "p50_ms", "p95_ms", "p99_ms")},
        "noop": noop,
        "key_reads": reads,
        "ratio_note": RATIO_NOTE,
        "live": {
            "window_s": round(window, 1),
            "samples_acked": acked,
            "samples_acked_per_s": {t: round(v / window, 1) if window > 0 else None for t, v in acked.items()},
            "samples_acked_per_s_total": round(sum(acked.values()) / window, 1) if window > 0 else None,
            "batches_acked": {t: counters.get(f"batches_acked_{t}", 0) for t in ("ws", "http")},
            "workouts_started": counters.get("workouts_started", 0),
            "workouts_finished": counters.get("workouts_finished", 0),
            "workouts_finished_at_stop": counters.get("workouts_finished_at_stop", 0),
            "ws_owner_connects": counters.get("ws_owner_connects", 0),
            "ws_owner_reconnects": counters.get("ws_owner_reconnects", 0),
        },
        "followers": {
            "connects": counters.get("ws_follower_connects", 0),
            "updates_received": counters.get("follower_updates", 0),
            "updates_per_s": round(counters.get("follower_updates", 0) / window, 1) if window > 0 else None,
            "saw_workout_end": counters.get("follower_saw_end", 0),
        },
        "uploads": {k[len("uploads_") :]: v for k, v in counters.items() if k.startswith("uploads_")},
        "generator": {
            **{k: locust[k] for k in ("cpu_s", "cpu_pct_of_one_core", "wall_s")},
            "cpu_ms_per_request": round(1000 * locust["cpu_s"] / requests, 3) if requests else None,
            "what": "the locust process (user + system CPU of the child, whole run incl. set-up)",
        },
    }


def locust_run(
    url: str, users: int, spawn_rate: float, run_time_s: int, env: dict[str, str], accounts: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[dict[str, Any]], dict[str, Any], str]:
    """Run locust with the accounts in a private temporary directory (tokens: mode 0600, deleted afterwards); its
    process figures, stats, failures, the locustfile's report and its log."""
    with tempfile.TemporaryDirectory(prefix="stride-locust-") as tmp:
        accounts_file = Path(tmp) / "accounts.json"
        accounts_file.touch(mode=0o600)
        accounts_file.write_text(json.dumps(accounts))
        report_file = Path(tmp) / "report.json"
        csv_prefix = str(Path(tmp) / "stats")
        log_path = str(Path(tmp) / "locust.log")
        env = {**env, "STRIDE_LOCUST_ACCOUNTS_FILE": str(accounts_file), "STRIDE_LOCUST_REPORT": str(report_file)}
        locust = run_locust(url, users, spawn_rate, run_time_s, csv_prefix, env, log_path)
        log_text = Path(log_path).read_text(errors="replace")
        if not Path(f"{csv_prefix}_stats.csv").exists():
            raise RuntimeError(f"locust wrote no stats (exit {locust['exit_code']}):\n{log_text[-3000:]}")
        report = json.loads(report_file.read_text()) if report_file.exists() else {}
        return locust, read_stats(csv_prefix), read_failures(csv_prefix), report, log_text


async def run(
    base_url: str,
    users: int,
    spawn_rate: float,
    run_time_s: int,
    users_per_account: int,
    live_batches: int,
    quiet_wait_s: float,
) -> dict[str, Any]:
    n_accounts = max(1, math.ceil(users / users_per_account))
    began = time.monotonic()
    accounts = await make_accounts(base_url, n_accounts)
    setup_s = time.monotonic() - began
    quiet = await wait_for_quiet(quiet_wait_s) if quiet_wait_s > 0 else None
    env = {
        **os.environ,
        "STRIDE_LOCUST_USERS_PER_ACCOUNT": str(users_per_account),
        "STRIDE_LOCUST_LIVE_BATCHES": str(live_batches),
        "PYTHONPATH": str(ROOT),
    }
    task = asyncio.create_task(asyncio.to_thread(locust_run, base_url, users, spawn_rate, run_time_s, env, accounts))
    await asyncio.sleep(min(run_time_s * 0.6, run_time_s - 4) if run_time_s > 8 else 1)
    cpu = await cpu_sample(3.0) if not task.done() else None
    locust, stats, failures, report, log_text = await task
    summary = summarise(stats, report, locust)
    return {
        "config": {
            "users": users,
            "spawn_rate": spawn_rate,
            "run_time_s": run_time_s,
            "accounts": n_accounts,
            "users_per_account": users_per_account,
            "live_batches_per_workout": live_batches,
            "weights": report.get("weights"),
            "account_setup_s": round(setup_s, 1),
        },
        "quiet_before": quiet,
        **summary,
        "requests": stats,
        "failures": failures,
        "locust": {
            **locust,
            "cpu_warning": bool(re.search(r"CPU usage above", log_text)),
            "log_tail": log_text[-1500:] if locust["exit_code"] not in (0, 1) else None,
        },
        "counters": report.get("counters", {}),
        "finish_at_stop_s": report.get("finish_at_stop_s"),
        "cpu_mid_run": cpu,
        "note": "the load generator runs on the same machine as the server and shares its CPUs",
    }


def main() -> None:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=float, default=20.0)
    parser.add_argument("--run-time", type=int, default=60, help="seconds")
    parser.add_argument("--users-per-account", type=int, default=8, help="Locust users sharing one account")
    parser.add_argument("--live-batches", type=int, default=24, help="batches per live workout before it finishes")
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument("--output", default="locust", help="result name: loadtest/results/NAME.json")
    args, unknown = parser.parse_known_args()  # `make bench ARGS=...` passes the same flags to every benchmark
    if unknown:
        print(f"bench_locust: ignoring {unknown}")
    result = asyncio.run(
        run(
            args.url,
            args.users,
            args.spawn_rate,
            args.run_time,
            args.users_per_account,
            args.live_batches,
            args.quiet_wait,
        )
    )
    print(json.dumps({k: result[k] for k in ("totals", "key_reads", "live", "followers", "generator")}, indent=2))
    print(write_result(args.output, result))


if __name__ == "__main__":
    main()
