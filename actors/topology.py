"""The one place that creates Stride's actors: the workout shards, the stats shards, the event dispatcher and the
janitor (and, later, the notifier). It runs at deploy time (`serve_app.deploy`, or `python -m actors.topology` on a
cluster before the Serve app is applied); Serve replicas only look the actors up by name.

Names carry the topology version: a fingerprint of the settings and of the code the actors run. Detached actors
keep the settings they were created with, so a changed shard count (or any other setting, or new code) must never
meet old actors: a new version gets new actors, and `deploy` kills every actor of an older version, so no two
shards ever own the same session or user. A killed workout shard loses nothing acknowledged (every batch is in
Cassandra before its ack) and its sessions are rebuilt by the new owner on their next request.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from config.settings import Settings

log = logging.getLogger("stride.topology")

PREFIX = "stride"
_CODE_DIRS = ("actors", "domain", "services", "storage", "config")
_ROOT = Path(__file__).resolve().parents[1]


def code_fingerprint() -> str:
    """sha256 over the source the actors run (so new code means new actors)."""
    digest = hashlib.sha256()
    for folder in _CODE_DIRS:
        for path in sorted((_ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def topology_version(settings: Settings, code: str | None = None) -> str:
    """A short, stable version of (settings, code): equal on every process that runs the same release."""
    digest = hashlib.sha256(settings.model_dump_json().encode())
    digest.update((code if code is not None else code_fingerprint()).encode())
    return digest.hexdigest()[:10]


@dataclass(frozen=True)
class Topology:
    """The actor names of one topology version (a plain value: safe to pass to Serve replicas)."""

    version: str
    namespace: str
    workout_shards: tuple[str, ...]
    stats_shards: tuple[str, ...]
    dispatcher: str
    janitor: str
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_settings(cls, settings: Settings, version: str | None = None) -> Topology:
        """The names a settings object implies."""
        v = version or topology_version(settings)
        base = f"{PREFIX}-{v}"
        return cls(
            version=v,
            namespace=settings.ray_namespace,
            workout_shards=tuple(f"{base}-workout-{i}" for i in range(settings.workout_shards)),
            stats_shards=tuple(f"{base}-stats-{i}" for i in range(settings.stats_shards)),
            dispatcher=f"{base}-dispatcher",
            janitor=f"{base}-janitor",
        )

    def names(self) -> list[str]:
        """Every actor name of this version."""
        return [*self.workout_shards, *self.stats_shards, self.dispatcher, self.janitor, *self.extra.values()]


@dataclass
class Handles:
    """Live handles to one topology's actors."""

    topology: Topology
    workout_shards: list[Any]
    stats_shards: list[Any]
    dispatcher: Any
    janitor: Any


def _options(cls: Any, name: str, namespace: str) -> Any:
    return cls.options(name=name, namespace=namespace, get_if_exists=True, lifetime="detached")


def deploy(settings: Settings, *, wait_s: float = 60.0, version: str | None = None) -> Handles:
    """Create this version's actors (idempotent), wait until each answers, then kill older versions' actors."""
    from actors.dispatcher import EventDispatcher
    from actors.janitor import Janitor
    from actors.stats_shard import StatsShard
    from actors.workout_shard import WorkoutShard

    topo = Topology.for_settings(settings, version)
    ns = topo.namespace
    workouts = [_options(WorkoutShard, n, ns).remote(settings, i) for i, n in enumerate(topo.workout_shards)]
    stats = [_options(StatsShard, n, ns).remote(settings, i) for i, n in enumerate(topo.stats_shards)]
    dispatcher = _options(EventDispatcher, topo.dispatcher, ns).remote(settings, stats)
    janitor = _options(Janitor, topo.janitor, ns).remote(settings, workouts)
    handles = Handles(topo, workouts, stats, dispatcher, janitor)
    ray.get([h.ping.remote() for h in [*workouts, *stats, dispatcher, janitor]], timeout=wait_s)
    retired = retire_other_versions(topo)
    log.info(
        "topology %s deployed (%d workout shards, %d stats shards); retired %d old actors",
        topo.version,
        len(workouts),
        len(stats),
        len(retired),
    )
    return handles


def retire_other_versions(topo: Topology) -> list[str]:
    """Kill every Stride actor in the namespace that belongs to another topology version; returns their names."""
    keep = set(topo.names())
    retired = []
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name, namespace = entry["name"], entry["namespace"]
        if namespace != topo.namespace or not name.startswith(f"{PREFIX}-") or name in keep:
            continue
        try:
            ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
            retired.append(name)
        except ValueError:
            pass  # already gone
    return retired


def _get(name: str, namespace: str) -> Any:
    """A named actor's handle (ValueError while it does not exist)."""
    return ray.get_actor(name, namespace=namespace)


def lookup(topo: Topology, *, wait_s: float = 60.0) -> Handles:
    """Handles to a deployed topology's actors, waiting (up to wait_s) for them to exist."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return Handles(
                topo,
                [_get(n, topo.namespace) for n in topo.workout_shards],
                [_get(n, topo.namespace) for n in topo.stats_shards],
                _get(topo.dispatcher, topo.namespace),
                _get(topo.janitor, topo.namespace),
            )
        except ValueError:
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"topology {topo.version} is not deployed (run `python -m actors.topology`)"
                ) from None
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    """CLI: create (or confirm) this release's actors on the Ray cluster at RAY_ADDRESS / STRIDE_RAY_ADDRESS."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--print-version", action="store_true", help="print the topology version and exit")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.print_version:
        print(topology_version(settings))
        return 0
    ray.init(address=settings.ray_address, namespace=settings.ray_namespace, log_to_driver=False)
    handles = deploy(settings)
    print(
        f"topology {handles.topology.version}: {len(handles.workout_shards)} workout shards, "
        f"{len(handles.stats_shards)} stats shards, dispatcher, janitor"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
