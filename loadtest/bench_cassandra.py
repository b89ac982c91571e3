"""Benchmark: Cassandra sample writes as Stride makes them, live rows and upload chunks next to each other.

Against the stack's Cassandra as it runs (its commit-log mode; nothing is restarted), through the app's own adapter
(`storage.cassandra.Cassandra`: the driver options of `build_cluster`, prepared statements, the asyncio bridge):

- **insert cells**: closed-loop prepared INSERTs of one row shape at a fixed concurrency for a few seconds:
  `live` (one 5-point live batch row, 8 float64 channel blobs), `chunk600` / `chunk3600` (an upload chunk row of
  600 / 3,600 points). Reports rows/s, points/s, latency p50/p99, and CPU per row of this client (the driver) and of
  the Cassandra process (from /proc when its pid is known).
- **uploads**: `SampleStore.write_track` of a 3,600-point activity with the configured chunk size (and the others
  measured, `--chunk-sizes`), then `read_track` of the whole activity: time and client CPU per upload / read.
- **live coalescing**: an open-loop stream of live rows (N workouts, one 5-point row every 5 s each) written
  through `storage.sample_writer.SampleWriter` in its modes (`single`: one request per row as before,
  `concurrent`: rows of one event-loop tick fanned out, `replica_batches`: one unlogged batch per coordinator
  replica), plus `none` (the generator alone, no Cassandra) as the CPU floor.
- **raw reference**: the live benchmark's reference (`bench_live.raw_cassandra`: `SampleStore.write_batch` from 32
  coroutines), the same rows, the same run.

Every row it writes has a fresh random activity id and is deleted afterwards (partition deletes).
`python -m loadtest.bench_cassandra [--seconds 4] [--reps 2]` writes loadtest/results/cassandra.json.
The commit-log mode comparison (a scratch node restarted in each mode) is loadtest/cassandra_modes.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import statistics
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from config.settings import Settings
from domain.track import Track
from loadtest.harness import percentile, write_result
from storage.cassandra import Cassandra
from storage.purges import DELETE_PARTITION as _DELETE  # the statements the app itself uses
from storage.samples import CHANNELS, SampleStore
from storage.samples import INSERT_ROW as _INSERT

SHAPES = {"live": 5, "chunk600": 600, "chunk1800": 1800, "chunk3600": 3600}
CLK_TCK = os.sysconf("SC_CLK_TCK")
# the live coalescing writer's modes; replica batches bounded by Cassandra's default warn thresholds (10 partitions,
# 5 KiB), and with the writer's defaults (32 rows / 24 KiB)
COALESCE_VARIANTS: list[tuple[str, dict[str, int]]] = [
    ("none", {}),
    ("single", {}),
    ("concurrent", {}),
    ("replica_batches", {"max_batch_rows": 10, "max_batch_bytes": 4608}),
    ("replica_batches", {}),
]


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, nd)


def channel_blobs(points: int, seed: int = 0) -> list[bytes]:
    """8 little-endian float64 channel blobs of `points` values (t, lat, lng, alt, hr, cadence, power, speed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(points, dtype=np.float64)
    cols = [
        t,
        45 + np.cumsum(rng.normal(0, 1e-5, points)),
        7 + np.cumsum(rng.normal(0, 1e-5, points)),
        200 + np.cumsum(rng.normal(0, 0.1, points)),
        140 + rng.normal(0, 3, points),
        85 + rng.normal(0, 2, points),
        220 + rng.normal(0, 20, points),
        3 + rng.normal(0, 0.2, points),
    ]
    assert len(cols) == len(CHANNELS)
    return [np.ascontiguousarray(c, dtype="<f8").tobytes() for c in cols]


def track_of(points: int, start_s: float = 0.0) -> Track:
    """A 1 Hz track of `points` samples with every channel present."""
    blobs = channel_blobs(points)
    cols = {c: np.frombuffer(b, dtype="<f8").copy() for c, b in zip(CHANNELS, blobs, strict=True)}
    cols["t"] = cols["t"] + start_s
    return Track(**cols)


def cassandra_pid(state_dir: str | None = None) -> int | None:
    """The pid of the stack's Cassandra (STRIDE_STATE_DIR or .state, pids/cassandra.pid), if it is running."""
    root = Path(state_dir or os.environ.get("STRIDE_STATE_DIR") or Path(__file__).resolve().parent.parent / ".state")
    with contextlib.suppress(Exception):
        pid = int((root / "pids" / "cassandra.pid").read_text().split()[0])
        os.kill(pid, 0)
        return pid
    return None


def node_commitlog(state_dir: str | None = None) -> str:
    """The commit-log settings the local node was started with (its rendered cassandra.yaml), e.g. 'group 2ms'."""
    root = Path(state_dir or os.environ.get("STRIDE_STATE_DIR") or Path(__file__).resolve().parent.parent / ".state")
    try:
        lines = (root / "cassandra" / "conf" / "cassandra.yaml").read_text().splitlines()
    except OSError:
        return "unknown (no local cassandra.yaml)"
    values = dict(line.split(":", 1) for line in lines if line.startswith(("commitlog_sync:", "commitlog_sync_group")))
    return " ".join(v.strip() for v in values.values())


def proc_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a process so far (None if unknown)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def machine_busy() -> tuple[float, float]:
    """(busy jiffies, total jiffies) of the whole machine from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    return float(sum(parts) - idle), float(sum(parts))


@dataclass
class Meter:
    """Wall time, this process's CPU, the Cassandra process's CPU and the machine's busy share over one cell."""

    server_pid: int | None
    wall0: float = field(default_factory=time.monotonic)
    cpu0: float = field(default_factory=time.process_time)
    srv0: float | None = None
    busy0: tuple[float, float] = field(default_factory=machine_busy)

    def __post_init__(self) -> None:
        self.srv0 = proc_cpu_s(self.server_pid)

    def stop(self, rows: int) -> dict[str, Any]:
        wall = time.monotonic() - self.wall0
        cpu = time.process_time() - self.cpu0
        srv1 = proc_cpu_s(self.server_pid)
        srv = None if srv1 is None or self.srv0 is None else srv1 - self.srv0
        b1 = machine_busy()
        busy = 100 * (b1[0] - self.busy0[0]) / max(1.0, b1[1] - self.busy0[1])
        return {
            "wall_s": round(wall, 2),
            "client_cpu_pct_of_one_core": round(100 * cpu / wall, 1),
            "client_cpu_ms_per_row": _r(1000 * cpu / rows, 3) if rows else None,
            "server_cpu_pct_of_one_core": _r(100 * srv / wall, 1) if srv is not None else None,
            "server_cpu_ms_per_row": _r(1000 * srv / rows, 3) if rows and srv is not None else None,
            "machine_busy_pct": round(busy, 1),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }


class Cleanup:
    """Partitions written by the benchmark, deleted at the end."""

    def __init__(self) -> None:
        self.partitions: set[tuple[uuid.UUID, int]] = set()

    def add(self, activity_id: uuid.UUID, buckets: Iterable[int]) -> None:
        for b in buckets:
            self.partitions.add((activity_id, b))

    async def run(self, cas: Cassandra) -> None:
        stmt = cas.prepare(_DELETE)
        sem = asyncio.Semaphore(64)

        async def delete(aid: uuid.UUID, bucket: int) -> None:
            async with sem:
                with contextlib.suppress(Exception):
                    await cas.execute(stmt, (aid, bucket))

        await asyncio.gather(*(delete(a, b) for a, b in self.partitions))
        self.partitions.clear()


# ---------------------------------------------------------------------------------------------- insert cells


async def insert_cell(
    cas: Cassandra,
    shape: str,
    concurrency: int,
    seconds: float,
    server_pid: int | None,
    cleanup: Cleanup,
    partitions: int = 256,
) -> dict[str, Any]:
    """Closed loop: `concurrency` coroutines each inserting rows of `shape` one after the other for `seconds`."""
    points = SHAPES[shape]
    stmt = cas.prepare(_INSERT)
    blobs = channel_blobs(points)
    ids = [uuid.uuid4() for _ in range(partitions)]
    for a in ids:
        cleanup.add(a, [0])
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = 0
    await cas.execute(stmt, (ids[0], 0, -1, points, *blobs))  # warm: connection, prepared id
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal counter
        while time.monotonic() < deadline:
            k = counter
            counter += 1
            started = time.perf_counter()
            try:
                await cas.execute(stmt, (ids[k % partitions], 0, k, points, *blobs))
                latencies.append((time.perf_counter() - started) * 1000)
            except Exception as exc:  # noqa: BLE001 - counted
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    meter = Meter(server_pid)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    m = meter.stop(len(latencies))
    rows = len(latencies)
    return {
        "shape": shape,
        "points_per_row": points,
        "concurrency": concurrency,
        "rows": rows,
        "rows_per_s": round(rows / m["wall_s"], 1),
        "points_per_s": round(rows * points / m["wall_s"]),
        "p50_ms": _r(percentile(latencies, 50)),
        "p99_ms": _r(percentile(latencies, 99)),
        "mean_ms": _r(statistics.fmean(latencies)) if latencies else None,
        "errors": errors,
        **m,
    }


# ---------------------------------------------------------------------------------------------- uploads


async def upload_cell(
    cas: Cassandra,
    settings: Settings,
    chunk_size: int,
    points: int,
    uploads: int,
    concurrency: int,
    server_pid: int | None,
    cleanup: Cleanup,
    how: str = "write_track",
) -> dict[str, Any]:
    """`uploads` activities of `points` 1 Hz points written with SampleStore.write_track at `chunk_size`
    (`concurrency` uploads at a time; how="gather": the previous write_track), then each read back whole."""
    store = SampleStore(cas, settings.sample_bucket_seconds, chunk_size=chunk_size)
    track = track_of(points, start_s=0.0)
    sem = asyncio.Semaphore(concurrency)
    ids = [uuid.uuid4() for _ in range(uploads)]
    writes: list[float] = []
    buckets: dict[uuid.UUID, list[int]] = {}
    await store.write_track(uuid.uuid4(), track_of(10))  # warm (that row is left: 10 points, a random id)

    async def write(aid: uuid.UUID) -> None:
        async with sem:
            started = time.perf_counter()
            if how == "gather":
                buckets[aid] = await write_track_gather(store, aid, track)
            else:
                buckets[aid] = await store.write_track(aid, track)
            writes.append((time.perf_counter() - started) * 1000)

    meter = Meter(server_pid)
    await asyncio.gather(*(write(a) for a in ids))
    wm = meter.stop(uploads)
    for aid, bs in buckets.items():
        cleanup.add(aid, bs)
    reads: list[float] = []

    async def read(aid: uuid.UUID) -> None:
        async with sem:
            started = time.perf_counter()
            got = await store.read_track(aid, buckets[aid])
            reads.append((time.perf_counter() - started) * 1000)
            assert len(got) == points, (len(got), points)

    meter = Meter(server_pid)
    await asyncio.gather(*(read(a) for a in ids))
    rm = meter.stop(uploads)
    rows_per_upload = sum(math.ceil(min(points - lo, 3600) / chunk_size) for lo in range(0, points, 3600))
    return {
        "chunk_size": chunk_size,
        "points": points,
        "rows_per_upload": rows_per_upload,
        "uploads": uploads,
        "concurrency": concurrency,
        "how": how,
        "write_uploads_per_s": round(uploads / wm["wall_s"], 1),
        "write_p50_ms": _r(percentile(writes, 50)),
        "write_p99_ms": _r(percentile(writes, 99)),
        "write_client_cpu_ms_per_upload": wm["client_cpu_ms_per_row"],
        "write_server_cpu_ms_per_upload": wm["server_cpu_ms_per_row"],
        "read_p50_ms": _r(percentile(reads, 50)),
        "read_p99_ms": _r(percentile(reads, 99)),
        "read_client_cpu_ms_per_activity": rm["client_cpu_ms_per_row"],
        "read_server_cpu_ms_per_activity": rm["server_cpu_ms_per_row"],
        "machine_busy_pct": wm["machine_busy_pct"],
    }


async def write_track_gather(store: SampleStore, activity_id: uuid.UUID, track: Track) -> list[int]:
    """The previous write_track, for comparison: one INSERT per chunk, all sent concurrently (no batch, no delete)."""
    from storage.samples import chunk_rows

    rows = chunk_rows(track, store.bucket_seconds, store.chunk_size)
    stmt = store.cas.prepare(_INSERT)
    await asyncio.gather(
        *(store.cas.execute(stmt, (activity_id, bucket, chunk, n, *values)) for bucket, chunk, n, values in rows)
    )
    return sorted({bucket for bucket, _, _, _ in rows})


# ---------------------------------------------------------------------------------------------- live coalescing


async def coalesce_cell(
    cas: Cassandra | None,
    mode: str,
    workouts: int,
    interval_s: float,
    seconds: float,
    server_pid: int | None,
    cleanup: Cleanup,
    points: int = 5,
    **writer_options: Any,
) -> dict[str, Any]:
    """Open loop: `workouts` live workouts each write one `points`-point row every `interval_s` (first at a random
    offset) for `seconds`; every row is its own task awaiting `SampleWriter.write_batch` (as a shard's actor call
    is), so rows due in the same tick are coalesced by the writer. mode `none` skips Cassandra (generator floor)."""
    from storage.sample_writer import SampleWriter

    rng = np.random.default_rng(workouts)
    ids = [uuid.uuid4() for _ in range(workouts)]
    offsets = rng.uniform(0, interval_s, workouts)
    track = track_of(points)
    writer = SampleWriter(cas, mode=mode, **writer_options) if cas is not None and mode != "none" else None  # type: ignore[arg-type]
    latencies: list[float] = []
    lags: list[float] = []
    errors: dict[str, int] = {}
    seqs = [0] * workouts
    if writer is not None:
        await writer.write_batch(uuid.uuid4(), 1, track)  # warm
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int, due: float) -> None:
        seqs[i] += 1
        started = time.perf_counter()
        try:
            if writer is not None:
                await writer.write_batch(ids[i], seqs[i], track)
            else:
                await asyncio.sleep(0)
            latencies.append((time.perf_counter() - started) * 1000)
        except Exception as exc:  # noqa: BLE001 - counted
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    # one schedule: (due time, workout) sorted; a ticker starts the due rows (like actor calls arriving)
    t0 = time.monotonic() + 0.05
    schedule = sorted(
        (t0 + off + k * interval_s, i)
        for i, off in enumerate(offsets)
        for k in range(int(seconds / interval_s) + 1)
        if off + k * interval_s < seconds
    )
    meter = Meter(server_pid)
    pos = 0
    while pos < len(schedule):
        now = time.monotonic()
        while pos < len(schedule) and schedule[pos][0] <= now:
            due, i = schedule[pos]
            lags.append((now - due) * 1000)
            task = asyncio.create_task(one(i, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            pos += 1
        if pos < len(schedule):
            await asyncio.sleep(max(0.0, min(0.005, schedule[pos][0] - time.monotonic())))
    if tasks:
        await asyncio.gather(*tasks)
    rows = len(latencies)
    m = meter.stop(rows)
    for aid in ids:
        cleanup.add(aid, [0])
    stats = writer.stats() if writer is not None else {}
    return {
        "mode": mode,
        "workouts": workouts,
        "offered_rows_per_s": round(workouts / interval_s, 1),
        "rows": rows,
        "rows_per_s": round(rows / m["wall_s"], 1),
        "ack_p50_ms": _r(percentile(latencies, 50)),
        "ack_p99_ms": _r(percentile(latencies, 99)),
        "start_lag_p99_ms": _r(percentile(lags, 99)),
        "errors": errors,
        "writer": stats,
        "writer_options": writer_options,
        **m,
    }


# ---------------------------------------------------------------------------------------------- the run


async def run(
    settings: Settings,
    seconds: float,
    reps: int,
    concurrencies: list[int],
    shapes: list[str],
    chunk_sizes: list[int],
    coalesce_rates: list[int],
    raw_seconds: float,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """Every cell of the current Cassandra (whatever its commit-log mode), repeated `reps` times, interleaved."""
    from loadtest.bench_live import raw_cassandra

    began = time.monotonic()
    cas = Cassandra(settings)
    cleanup = Cleanup()
    server_pid = server_pid or cassandra_pid()
    result: dict[str, Any] = {
        "config": {
            "cassandra": f"{settings.cassandra_hosts}:{settings.cassandra_port}",
            "keyspace": settings.cassandra_keyspace,
            "write_consistency": settings.cassandra_write_consistency,
            "seconds_per_cell": seconds,
            "reps": reps,
            "concurrencies": concurrencies,
            "shapes": {s: SHAPES[s] for s in shapes},
            "server_pid_known": bool(server_pid),
            "commitlog": node_commitlog(),
        }
    }
    try:
        inserts: list[dict[str, Any]] = []
        for rep in range(reps):
            for shape in shapes:
                for c in concurrencies:
                    cell = await insert_cell(cas, shape, c, seconds, server_pid, cleanup)
                    cell["rep"] = rep
                    inserts.append(cell)
                    print(
                        json.dumps(
                            {
                                k: cell[k]
                                for k in (
                                    "shape",
                                    "concurrency",
                                    "rows_per_s",
                                    "p50_ms",
                                    "p99_ms",
                                    "client_cpu_ms_per_row",
                                    "server_cpu_ms_per_row",
                                )
                            }
                        ),
                        flush=True,
                    )
            await cleanup.run(cas)
        result["inserts"] = inserts
        result["inserts_median"] = summarise(inserts, ("shape", "concurrency"))
        uploads = []
        for rep in range(reps):
            for cs in chunk_sizes:
                cell = await upload_cell(
                    cas, settings, cs, 3600, uploads=20, concurrency=4, server_pid=server_pid, cleanup=cleanup
                )
                cell["rep"] = rep
                uploads.append(cell)
                print(
                    json.dumps(
                        {
                            k: cell[k]
                            for k in ("chunk_size", "write_p50_ms", "write_client_cpu_ms_per_upload", "read_p50_ms")
                        }
                    ),
                    flush=True,
                )
            await cleanup.run(cas)
        result["uploads_3600_points"] = uploads
        result["uploads_median"] = summarise(uploads, ("chunk_size",))
        coalesce = []
        for rep in range(reps):
            for rate in coalesce_rates:
                for mode, options in (("single", {}), ("concurrent", {}), ("replica_batches", {})):
                    cell = await coalesce_cell(
                        cas,
                        mode,
                        workouts=rate * 5,
                        interval_s=5.0,
                        seconds=max(seconds, 6.0),
                        server_pid=server_pid,
                        cleanup=cleanup,
                        **options,
                    )
                    cell["rep"] = rep
                    cell["variant"] = variant_name(mode, options)
                    coalesce.append(cell)
                    print(
                        json.dumps(
                            {
                                k: cell[k]
                                for k in (
                                    "variant",
                                    "offered_rows_per_s",
                                    "rows_per_s",
                                    "ack_p50_ms",
                                    "ack_p99_ms",
                                    "client_cpu_ms_per_row",
                                )
                            }
                        ),
                        flush=True,
                    )
            await cleanup.run(cas)
        result["live_coalescing"] = coalesce
        result["live_coalescing_median"] = summarise(coalesce, ("offered_rows_per_s", "variant"))
        if raw_seconds > 0:
            result["raw_reference"] = await raw_cassandra(settings, raw_seconds, 32, 5, 5.0, sample_cpu=False)
    finally:
        with contextlib.suppress(Exception):
            await cleanup.run(cas)
        cas.close()
    result["wall_s_total"] = round(time.monotonic() - began, 1)
    result["note"] = (
        "client and Cassandra share the machine's cores; CPU per row = CPU seconds / rows over the cell "
        "(client: this process; server: the Cassandra JVM)"
    )
    return result


def variant_name(mode: str, options: dict[str, int]) -> str:
    """`replica_batches/10rows` etc."""
    return mode + (f"/{options['max_batch_rows']}rows" if options else "")  # no options: the writer's defaults


def summarise(cells: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Median over repetitions of every numeric field, per combination of `keys`."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for c in cells:
        groups.setdefault(tuple(c[k] for k in keys), []).append(c)
    out = []
    for key, members in groups.items():
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row["reps"] = len(members)
        for f, v in members[0].items():
            if f in keys or f == "rep" or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            vals = [m[f] for m in members if isinstance(m.get(f), (int, float))]
            if vals:
                row[f] = _r(float(statistics.median(vals)), 3)
        out.append(row)
    return out


def main() -> None:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help="ignored (make bench passes it to every benchmark)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per insert cell")
    parser.add_argument("--reps", type=int, default=2, help="repetitions of every cell (interleaved)")
    parser.add_argument("--concurrency", default="1,32,256")
    parser.add_argument("--shapes", default="live,chunk600,chunk3600")
    parser.add_argument("--chunk-sizes", default="600,1800,3600")
    parser.add_argument("--coalesce-rates", default="400,1600", help="live rows/s offered (workouts = 5 x rate)")
    parser.add_argument("--raw-seconds", type=float, default=6.0, help="bench_live's raw reference (0: skip)")
    args, unknown = parser.parse_known_args()
    if unknown:
        print(f"bench_cassandra: ignoring {unknown}")
    settings = Settings()
    result = asyncio.run(
        run(
            settings,
            args.seconds,
            args.reps,
            [int(c) for c in args.concurrency.split(",")],
            args.shapes.split(","),
            [int(c) for c in args.chunk_sizes.split(",")],
            [int(r) for r in args.coalesce_rates.split(",") if r],
            args.raw_seconds,
        )
    )
    print(json.dumps({k: result[k] for k in ("inserts_median", "uploads_median", "live_coalescing_median")}, indent=1))
    print(write_result("cassandra", result))


if __name__ == "__main__":
    main()
