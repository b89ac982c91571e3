"""Every listening socket of the stack is on loopback (issue 9, items 1 and 2).

The processes are found by PID: the services cluster/test.sh started (pid files in .state/pids), and the test
session's Ray (every descendant of this process: GCS, raylet, dashboard/agents, workers, Serve's HAProxy). `make up`
binds the same way (cluster/ray.sh, ray-env.sh); docs/security.md records its `ss -ltn`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
from collections import defaultdict
from pathlib import Path

from tests.conftest import RAY_TOKEN_PATH, TEST_HAPROXY_DIR

STATE = RAY_TOKEN_PATH.parent.parent
USERS = re.compile(r'\("([^"]*)",pid=(\d+),fd=\d+\)')


def _listeners() -> list[tuple[str, int, str, int]]:
    """(address, port, process name, pid) of every listening TCP socket, from `ss -ltnpH`."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        address, _, port = fields[3].rpartition(":")
        for name, pid in USERS.findall(line):
            found.append((address.strip("[]"), int(port), name, int(pid)))
    return found


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree[ppid].append(int(entry.name))
    return tree


def _descendants(root: int) -> set[int]:
    tree, seen, todo = _children(), set(), [root]
    while todo:
        pid = todo.pop()
        for child in tree.get(pid, []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _is_loopback(address: str) -> bool:
    if address == "*":  # ss's notation for every address (IPv4 and IPv6)
        return False
    ip = ipaddress.ip_address(address)
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_loopback


def _service_pid(name: str) -> int:
    pid = int((STATE / "pids" / f"{name}.pid").read_text().split()[0])
    os.kill(pid, 0)
    return pid


def test_every_listener_of_the_stack_is_on_loopback(serve_app: str, settings) -> None:
    haproxy = {
        int(p)
        for p in subprocess.run(
            ["pgrep", "-f", f"haproxy .*{TEST_HAPROXY_DIR}/"], capture_output=True, text=True
        ).stdout.split()
    }
    ours = {
        "postgres": {_service_pid("postgres")},
        "redis": {_service_pid("redis")},
        "cassandra": {_service_pid("cassandra")},
        "ray": _descendants(os.getpid()) | haproxy,
    }
    by_owner: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for address, port, name, pid in _listeners():
        for owner, pids in ours.items():
            if pid in pids:
                by_owner[owner].append((address, port, name))
    exposed = [(owner, entry) for owner, entries in by_owner.items() for entry in entries if not _is_loopback(entry[0])]
    assert exposed == [], f"listening beyond loopback: {exposed}"

    # and the check saw the sockets it is about (not vacuous)
    ports = {owner: {port for _, port, _ in entries} for owner, entries in by_owner.items()}
    names = {name for _, _, name in by_owner["ray"]}
    assert settings.pg_port in ports["postgres"] and settings.redis_port in ports["redis"]
    assert settings.cassandra_port in ports["cassandra"] and len(ports["cassandra"]) >= 3  # CQL, storage, JMX
    assert {"gcs_server", "raylet", "haproxy"} <= names, names
    assert any(n.startswith("ray::") for n in names), names  # workers (actors, Serve replicas)
    stats, metrics = (int(os.environ[f"RAY_SERVE_HAPROXY_{k}_PORT"]) for k in ("STATS", "METRICS"))
    haproxy_ports = {port for _, port, name in by_owner["ray"] if name == "haproxy"}
    assert {settings.http_port, stats, metrics} <= haproxy_ports
