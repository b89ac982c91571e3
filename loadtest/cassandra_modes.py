"""Commit-log modes and client options of Cassandra, measured on a scratch node (never the stack's Cassandra).

Starts a scratch single node with the project's own `cluster/cassandra.sh` in its own state folder, on its own ports,
with its own generated secrets (STRIDE_STATE_DIR, STRIDE_CASSANDRA_PORT, CASSANDRA_STORAGE_PORT, CASSANDRA_JMX_PORT),
restarting it in each commit-log mode, and runs loadtest.bench_cassandra's cells against it:

    python -m loadtest.cassandra_modes modes  [--modes periodic,batch,group:1,group:2,group:5,group:10,group:20]
                                              [--rounds 2] [--seconds 4]      -> results/cassandra-modes.json
    python -m loadtest.cassandra_modes extras --mode group:2                  -> results/cassandra-extras.json
        (upload chunk sizes, single-partition batches, client options: protocol v4/v5, lz4, token-aware routing,
         and the live coalescing writer's modes at rising rates)
    python -m loadtest.cassandra_modes before-after [--rounds 2]              -> results/cassandra-before-after.json
        (the live benchmark's raw reference and 3,600-point uploads with the old and the new defaults)
    python -m loadtest.cassandra_modes stop

Rounds visit the modes in a rotated order, so slow drift of the shared machine spreads over all modes. The scratch
node is stopped by its pid file at the end (`stop` too). Data: --state (default /tmp/stride-cass-scratch).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from config.settings import Settings
from loadtest import bench_cassandra as bc
from loadtest.harness import write_result

ROOT = Path(__file__).resolve().parent.parent
KEYSPACE = "stride_bench"


class Scratch:
    """A scratch Cassandra node driven through cluster/cassandra.sh with its own state folder and ports."""

    def __init__(self, state: Path, port: int) -> None:
        self.state, self.port = state, port

    def env(self, mode: str) -> dict[str, str]:
        sync, _, window = mode.partition(":")
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "STRIDE_STATE_DIR": str(self.state),
            "STRIDE_CASSANDRA_PORT": str(self.port),
            "CASSANDRA_STORAGE_PORT": str(self.port + 1),
            "CASSANDRA_JMX_PORT": str(self.port + 2),
            "STRIDE_CASSANDRA_HEAP": "1G",
            "STRIDE_CASSANDRA_COMMITLOG_SYNC": sync,
        }
        if window:
            env["STRIDE_CASSANDRA_COMMITLOG_GROUP_WINDOW"] = f"{window}ms"
        return env

    def script(self, action: str, mode: str = "group:2") -> None:
        lib, shared_lib = self.state / "cassandra" / "lib", ROOT / ".state" / "cassandra" / "lib"
        if not lib.exists() and shared_lib.exists():  # reuse the stack's resolved jars instead of a Maven run
            lib.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-a", str(shared_lib), str(lib)], check=True)
        subprocess.run(
            [str(ROOT / "cluster" / "cassandra.sh"), action], env=self.env(mode), check=True, stdout=subprocess.DEVNULL
        )

    def secret(self, name: str) -> str:
        return (self.state / "secrets" / name).read_text().strip()

    def pid(self) -> int | None:
        return bc.cassandra_pid(str(self.state))

    def settings(self) -> Settings:
        return Settings(
            cassandra_hosts="127.0.0.1",
            cassandra_port=self.port,
            cassandra_keyspace=KEYSPACE,
            cassandra_replication_factor=1,
            cassandra_write_consistency="LOCAL_ONE",
            cassandra_password=SecretStr(self.secret("cassandra-app-password")),
            cassandra_migration_password=SecretStr(self.secret("cassandra-owner-password")),
            jwt_secret=SecretStr(self.secret("jwt-secret")),
        )

    def restart(self, mode: str) -> float:
        began = time.monotonic()
        self.script("stop")
        self.script("start", mode)
        from storage.migrate import migrate_cassandra

        migrate_cassandra(self.settings(), KEYSPACE)
        return time.monotonic() - began

    def truncate(self) -> None:
        from storage.migrate import truncate_samples

        truncate_samples(self.settings(), KEYSPACE)


async def mode_cells(
    settings: Settings, pid: int | None, seconds: float, shapes: list[str], concurrencies: list[int], raw_seconds: float
) -> dict[str, Any]:
    from loadtest.bench_live import raw_cassandra
    from storage.cassandra import Cassandra

    cas = Cassandra(settings)
    cleanup = bc.Cleanup()
    cells = []
    try:
        for shape in ("live", "chunk600"):  # warm-up after the restart (JIT, memtables), not recorded
            await bc.insert_cell(cas, shape, 32, 4.0, pid, cleanup)
        for shape in shapes:
            for c in concurrencies:
                cell = await bc.insert_cell(cas, shape, c, seconds, pid, cleanup)
                cells.append(cell)
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
                                "machine_busy_pct",
                            )
                        }
                    ),
                    flush=True,
                )
    finally:
        cas.close()
    raw = await raw_cassandra(settings, raw_seconds, 32, 5, 5.0, sample_cpu=False) if raw_seconds > 0 else None
    return {"inserts": cells, "raw_reference": raw}


def run_modes(args: argparse.Namespace) -> dict[str, Any]:
    scratch = Scratch(Path(args.state), args.port)
    modes = args.modes.split(",")
    shapes = args.shapes.split(",")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    cells: list[dict[str, Any]] = []
    raws: list[dict[str, Any]] = []
    try:
        for rnd in range(args.rounds):
            order = modes[rnd % len(modes) :] + modes[: rnd % len(modes)]
            for mode in order:
                start_s = scratch.restart(mode)
                print(f"== round {rnd} mode {mode} (restart {start_s:.0f} s)", flush=True)
                out = asyncio.run(
                    mode_cells(scratch.settings(), scratch.pid(), args.seconds, shapes, concurrencies, args.raw_seconds)
                )
                for cell in out["inserts"]:
                    cells.append({"mode": mode, "round": rnd, **cell})
                if out["raw_reference"]:
                    raws.append({"mode": mode, "round": rnd, **out["raw_reference"]})
                scratch.truncate()
                write_result(
                    args.name or "cassandra-modes",
                    modes_result(args, modes, shapes, concurrencies, cells, raws, partial=True),
                )
    finally:
        scratch.script("stop")
    return modes_result(args, modes, shapes, concurrencies, cells, raws, partial=False)


def modes_result(
    args: argparse.Namespace,
    modes: list[str],
    shapes: list[str],
    concurrencies: list[int],
    cells: list[dict[str, Any]],
    raws: list[dict[str, Any]],
    partial: bool,
) -> dict[str, Any]:
    return {
        "config": {
            "modes": modes,
            "rounds": args.rounds,
            "seconds_per_cell": args.seconds,
            "shapes": shapes,
            "concurrencies": concurrencies,
            "heap": "1G",
            "node": "scratch single node, own state/ports",
            "partial": partial,
        },
        "inserts": cells,
        "inserts_median": bc.summarise(cells, ("mode", "shape", "concurrency")),
        "raw_reference": raws,
        "raw_reference_median": bc.summarise(raws, ("mode",)),
    }


# ---------------------------------------------------------------------------------------------- extras


def apply_variant(cluster: Any, settings: Settings, variant: str) -> Any:
    """build_cluster's Cluster with the options of `variant` applied, '+'-joined: nagle (no TCP_NODELAY: the driver's
    own default), nodelay (TCP_NODELAY), v4 (protocol v4), lz4 (lz4 frame compression), nocomp (no compression; the
    driver's default compression=True picks lz4 whenever the lz4 package is importable), no_token_aware (DC-aware
    round robin only)."""
    import socket

    from cassandra.policies import DCAwareRoundRobinPolicy

    for option in variant.split("+"):
        if option == "nagle":
            cluster.sockopts = None
        elif option == "nodelay":
            cluster.sockopts = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        elif option in ("v4", "v5"):
            cluster.protocol_version = int(option[1])
        elif option == "lz4":
            cluster.compression = "lz4"
        elif option == "nocomp":
            cluster.compression = False
        elif option == "no_token_aware":
            cluster.profile_manager.default.load_balancing_policy = DCAwareRoundRobinPolicy(settings.cassandra_local_dc)
        elif option != "default":
            raise ValueError(option)
    return cluster


def connect_variant(settings: Settings, variant: str) -> Any:
    """A storage.cassandra.Cassandra connected through a `variant` of build_cluster's Cluster (see apply_variant)."""
    from storage.cassandra import Cassandra, build_cluster

    cas = Cassandra(settings)
    cluster = apply_variant(build_cluster(settings), settings, variant)
    cas._cluster, cas._session = cluster, cluster.connect()
    return cas


async def raw_reference_variant(settings: Settings, variant: str, seconds: float) -> dict[str, Any]:
    """bench_live's raw reference (SampleStore.write_batch from 32 coroutines) through a `variant` Cluster."""
    import storage.cassandra as sc
    from loadtest.bench_live import raw_cassandra

    original = sc.build_cluster
    sc.build_cluster = lambda s, owner=False: apply_variant(original(s, owner=owner), s, variant)  # type: ignore[assignment]
    try:
        return await raw_cassandra(settings, seconds, 32, 5, 5.0, sample_cpu=False)
    finally:
        sc.build_cluster = original


def token_aware_check(cas: Any) -> dict[str, Any]:
    """Is token-aware routing in effect: routing key on the bound INSERT, a token map, the plan's first host a
    replica of the partition."""
    from storage.samples import INSERT_ROW as _INSERT

    stmt = cas.prepare(_INSERT)
    bound = stmt.bind((uuid.uuid4(), 0, 1, 0, None, None, None, None, None, None, None, None))
    session = cas.session()
    policy = session.cluster.profile_manager.default.load_balancing_policy
    plan = list(policy.make_query_plan(cas.keyspace, bound))
    replicas = session.cluster.metadata.get_replicas(cas.keyspace, bound.routing_key) if bound.routing_key else []
    return {
        "policy": type(policy).__name__,
        "routing_key_set": bound.routing_key is not None,
        "routing_key_indexes": stmt.routing_key_indexes,
        "token_map": session.cluster.metadata.token_map is not None,
        "first_host_is_replica": bool(plan) and plan[0] in replicas,
        "protocol_version": session.cluster.protocol_version,
        "compression": str(
            getattr(next(iter(session._pools.values()))._connection, "compressor", None) if session._pools else None
        ),
    }


async def extras_cells(settings: Settings, pid: int | None, args: argparse.Namespace) -> dict[str, Any]:
    from storage.cassandra import Cassandra

    out: dict[str, Any] = {"uploads": [], "client_options": [], "coalescing": [], "token_aware": {}}
    reps = args.rounds
    sections = set(args.sections.split(","))
    cleanup = bc.Cleanup()
    cas = Cassandra(settings)
    try:
        # 2. chunk sizes: 3,600-point uploads (one at a time and 4 at a time), whole-activity reads;
        #    and a 2-hour (7,200-point) activity; and the bucket's chunks as one single-partition batch
        for rep in range(reps if "uploads" in sections else 0):
            for points in (3600, 7200):
                for cs in (600, 1800, 3600):
                    for conc in (1, 4):
                        for how in ("write_track", "gather"):
                            if how == "gather" and conc != 4:
                                continue
                            cell = await bc.upload_cell(
                                cas,
                                settings,
                                cs,
                                points,
                                uploads=16,
                                concurrency=conc,
                                server_pid=pid,
                                cleanup=cleanup,
                                how=how,
                            )
                            cell["rep"] = rep
                            out["uploads"].append(cell)
                            print(
                                json.dumps(
                                    {
                                        k: cell[k]
                                        for k in (
                                            "points",
                                            "chunk_size",
                                            "concurrency",
                                            "how",
                                            "write_p50_ms",
                                            "write_client_cpu_ms_per_upload",
                                            "write_server_cpu_ms_per_upload",
                                            "read_p50_ms",
                                        )
                                    }
                                ),
                                flush=True,
                            )
            await cleanup.run(cas)
    finally:
        cas.close()
    out["uploads_median"] = bc.summarise(out["uploads"], ("points", "chunk_size", "concurrency", "how"))

    # 3. client options, one Cluster each
    variants = ["nagle+nocomp", "nodelay+nocomp", "nodelay+nocomp+v4", "nodelay+nocomp+no_token_aware"] + (
        ["nodelay+lz4"] if _has_lz4() else []
    )
    for rep in range(reps if "client" in sections else 0):
        for variant in variants:
            cas = connect_variant(settings, variant)
            try:
                if rep == 0:
                    out["token_aware"][variant] = token_aware_check(cas)
                for shape, conc in (("live", 1), ("live", 32), ("live", 256), ("chunk600", 1), ("chunk600", 32)):
                    cell = await bc.insert_cell(cas, shape, conc, args.seconds, pid, cleanup)
                    cell.update(variant=variant, rep=rep)
                    out["client_options"].append(cell)
                    print(
                        json.dumps(
                            {
                                k: cell[k]
                                for k in (
                                    "variant",
                                    "shape",
                                    "concurrency",
                                    "rows_per_s",
                                    "p99_ms",
                                    "client_cpu_ms_per_row",
                                    "server_cpu_ms_per_row",
                                )
                            }
                        ),
                        flush=True,
                    )
                await cleanup.run(cas)
            finally:
                cas.close()
    out["client_options_median"] = bc.summarise(out["client_options"], ("variant", "shape", "concurrency"))
    out["raw_reference"] = []
    for rep in range(reps if "client" in sections else 0):
        for variant in ("nagle+nocomp", "nodelay+nocomp"):
            raw = await raw_reference_variant(settings, variant, 8.0)
            out["raw_reference"].append({"variant": variant, "rep": rep, **raw})
            print(
                json.dumps(
                    {"raw": variant, "rows_per_s": raw["rows_per_s"], "p50_ms": raw["p50_ms"], "p99_ms": raw["p99_ms"]}
                ),
                flush=True,
            )
    out["raw_reference_median"] = bc.summarise(out["raw_reference"], ("variant",))

    # 3. live coalescing at rising offered rates
    cas = Cassandra(settings)
    try:
        for rep in range(reps if "coalescing" in sections else 0):
            for rate in [int(r) for r in args.rates.split(",")]:
                for mode, options in bc.COALESCE_VARIANTS:
                    cell = await bc.coalesce_cell(
                        cas,
                        mode,
                        workouts=rate * 5,
                        interval_s=5.0,
                        seconds=args.coalesce_seconds,
                        server_pid=pid,
                        cleanup=cleanup,
                        **options,
                    )
                    cell["rep"] = rep
                    cell["variant"] = bc.variant_name(mode, options)
                    out["coalescing"].append(cell)
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
                                    "server_cpu_ms_per_row",
                                    "machine_busy_pct",
                                )
                            }
                        ),
                        flush=True,
                    )
                await cleanup.run(cas)
    finally:
        cas.close()
    out["coalescing_median"] = bc.summarise(out["coalescing"], ("offered_rows_per_s", "variant"))
    return out


async def warm_up(settings: Settings, pid: int | None) -> None:
    """A few seconds of inserts after a restart (JIT, memtables), not recorded."""
    from storage.cassandra import Cassandra

    cas = Cassandra(settings)
    cleanup = bc.Cleanup()
    try:
        for shape in ("live", "chunk600"):
            await bc.insert_cell(cas, shape, 32, 4.0, pid, cleanup)
        await cleanup.run(cas)
    finally:
        cas.close()


async def before_after_cells(
    settings: Settings, pid: int | None, variant: str, chunk_size: int, how: str, seconds: float
) -> dict[str, Any]:
    """The live benchmark's raw reference and 3,600-point uploads (4 in flight) through a `variant` Cluster."""
    import storage.cassandra as sc

    raw = await raw_reference_variant(settings, variant, seconds)
    original = sc.build_cluster
    sc.build_cluster = lambda s, owner=False: apply_variant(original(s, owner=owner), s, variant)  # type: ignore[assignment]
    cas = sc.Cassandra(settings)
    cleanup = bc.Cleanup()
    try:
        upload = await bc.upload_cell(
            cas, settings, chunk_size, 3600, uploads=40, concurrency=4, server_pid=pid, cleanup=cleanup, how=how
        )
        await cleanup.run(cas)
    finally:
        cas.close()
        sc.build_cluster = original
    return {"raw_reference": raw, "upload_3600": upload}


def run_before_after(args: argparse.Namespace) -> dict[str, Any]:
    """Before (commit log group 2 ms; driver: Nagle on, protocol v5; uploads in 600-point rows, one INSERT each) and
    after (--mode, default group 2 ms; the driver's defaults now: TCP_NODELAY, v4; one 3,600-point row per hour in
    one batch), in alternating rounds on the scratch node."""
    scratch = Scratch(Path(args.state), args.port)
    setups = [
        ("before", "group:2", "nagle+nocomp+v5", 600, "gather"),
        ("after", args.mode, "default", 3600, "write_track"),
    ]
    cells: list[dict[str, Any]] = []
    try:
        for rnd in range(args.rounds):
            for name, mode, variant, chunk, how in setups:
                scratch.restart(mode)
                asyncio.run(warm_up(scratch.settings(), scratch.pid()))
                out = asyncio.run(before_after_cells(scratch.settings(), scratch.pid(), variant, chunk, how, 8.0))
                cell = {
                    "setup": name,
                    "round": rnd,
                    "commitlog": mode,
                    "driver": variant,
                    "chunk_size": chunk,
                    "write_track": how,
                    **out,
                }
                cells.append(cell)
                print(
                    json.dumps(
                        {
                            "setup": name,
                            "raw_rows_per_s": out["raw_reference"]["rows_per_s"],
                            "raw_p50_ms": out["raw_reference"]["p50_ms"],
                            "raw_p99_ms": out["raw_reference"]["p99_ms"],
                            "upload_p50_ms": out["upload_3600"]["write_p50_ms"],
                            "upload_cpu_ms": out["upload_3600"]["write_client_cpu_ms_per_upload"],
                        }
                    ),
                    flush=True,
                )
    finally:
        scratch.script("stop")
    flat = [
        {
            "setup": c["setup"],
            **{f"raw_{k}": v for k, v in c["raw_reference"].items() if k != "errors"},
            **{f"upload_{k}": v for k, v in c["upload_3600"].items()},
        }
        for c in cells
    ]
    return {
        "config": {"rounds": args.rounds, "setups": setups},
        "cells": cells,
        "median": bc.summarise(flat, ("setup",)),
    }


def _has_lz4() -> bool:
    try:
        import lz4.block  # noqa: F401
    except ImportError:
        return False
    return True


def run_extras(args: argparse.Namespace) -> dict[str, Any]:
    scratch = Scratch(Path(args.state), args.port)
    try:
        scratch.restart(args.mode)
        asyncio.run(warm_up(scratch.settings(), scratch.pid()))
        result = asyncio.run(extras_cells(scratch.settings(), scratch.pid(), args))
    finally:
        scratch.script("stop")
    return {
        "config": {
            "mode": args.mode,
            "reps": args.rounds,
            "seconds_per_cell": args.seconds,
            "sections": args.sections,
            "lz4_importable": _has_lz4(),
            "note": "with lz4 importable, every Cluster left at compression=True negotiates lz4",
        },
        **result,
    }


def main() -> None:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("modes", "extras", "before-after", "stop"))
    parser.add_argument("--state", default="/tmp/stride-cass-scratch")
    parser.add_argument("--port", type=int, default=8710, help="CQL port; storage port +1, JMX +2")
    parser.add_argument("--modes", default="periodic,batch,group:1,group:2,group:5,group:10,group:20")
    parser.add_argument("--mode", default="group:2", help="extras / before-after: the commit-log mode (after)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--coalesce-seconds", type=float, default=10.0)
    parser.add_argument("--rates", default="400,800,1600,3200")
    parser.add_argument("--sections", default="uploads,client,coalescing", help="extras: which parts to run")
    parser.add_argument("--shapes", default="live,chunk600,chunk3600")
    parser.add_argument("--concurrency", default="1,32,256")
    parser.add_argument("--raw-seconds", type=float, default=6.0)
    parser.add_argument("--name", default=None, help="result file name (default cassandra-modes / cassandra-extras)")
    args = parser.parse_args()
    if args.what == "stop":
        Scratch(Path(args.state), args.port).script("stop")
        return
    run = {"modes": run_modes, "extras": run_extras, "before-after": run_before_after}[args.what]
    print(write_result(args.name or f"cassandra-{args.what}", run(args)))


if __name__ == "__main__":
    main()
