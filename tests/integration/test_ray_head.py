"""`make up`'s Ray head, as cluster/ray.sh starts it: loopback only, token required (issue 9, item 1).

Runs `cluster/ray.sh head_only` (the very flags and environment `make up` uses: ray-env.sh) with a state folder,
temp folder and ports of its own, then checks by PID that every socket of that Ray listens on loopback, and that
the GCS and the dashboard agent's job API (which runs any command it is sent) refuse clients without the token.
The head is stopped by PID (never `ray stop`, which would end every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from tests.conftest import ROOT

PORT_NAMES = (
    "RAY_GCS_PORT",
    "STRIDE_RAY_NODE_MANAGER_PORT",
    "STRIDE_RAY_OBJECT_MANAGER_PORT",
    "STRIDE_RAY_CLIENT_SERVER_PORT",
    "STRIDE_RAY_DASHBOARD_AGENT_LISTEN_PORT",
    "STRIDE_RAY_DASHBOARD_AGENT_GRPC_PORT",
    "STRIDE_RAY_METRICS_EXPORT_PORT",
    "STRIDE_RAY_RUNTIME_ENV_AGENT_PORT",
)
USERS = re.compile(r'\("([^"]*)",pid=(\d+),fd=\d+\)')


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _pids_of(*markers: str) -> set[int]:
    """Processes whose command line mentions one of `markers`, and all their descendants."""
    parents: dict[int, int] = {}
    roots = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if any(marker in cmdline for marker in markers):
            roots.add(int(entry.name))
    found, changed = set(roots), True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                changed = True
    return found


def _kill(pids: set[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
            time.sleep(0.2)


@pytest.fixture(scope="module")
def ray_head() -> Iterator[dict[str, str]]:
    base = Path(tempfile.mkdtemp(prefix="/tmp/srh-"))  # short: Ray's unix socket paths must stay < 108 bytes
    ports = _free_ports(len(PORT_NAMES) + 1)
    # the workers' range starts at the last free port and must not contain one of the components' ports
    while any(ports[-1] <= p <= ports[-1] + 40 for p in ports[:-1]):
        ports = _free_ports(len(PORT_NAMES) + 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "STRIDE_"))}
    env.update({name: str(port) for name, port in zip(PORT_NAMES, ports, strict=False)})
    env.update(
        STRIDE_STATE_DIR=str(base / "state"),
        RAY_TMP=str(base / "ray"),
        STRIDE_RAY_NUM_CPUS="1",
        STRIDE_RAY_MIN_WORKER_PORT=str(ports[-1]),
        STRIDE_RAY_MAX_WORKER_PORT=str(ports[-1] + 40),
    )
    # the head's processes name the temp folder or, like the Ray Client server, the GCS address
    markers = (str(base), f"--address=127.0.0.1:{env['RAY_GCS_PORT']} ")
    started = subprocess.run(
        [str(ROOT / "cluster" / "ray.sh"), "head_only"], env=env, capture_output=True, text=True, timeout=180
    )
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        time.sleep(3)  # let the agents open their ports
        env["PIDS"] = " ".join(map(str, sorted(_pids_of(*markers))))
        yield env
    finally:
        _kill(_pids_of(*markers))
        shutil.rmtree(base, ignore_errors=True)


def _token(env: dict[str, str]) -> str:
    return (Path(env["STRIDE_STATE_DIR"]) / "secrets" / "ray-token").read_text().strip()


def test_make_up_ray_listens_on_loopback_only(ray_head: dict[str, str]) -> None:
    pids = {int(p) for p in ray_head["PIDS"].split()}
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    listeners = []
    for line in out.splitlines():
        address, _, port = line.split()[3].rpartition(":")
        for name, pid in USERS.findall(line):
            if int(pid) in pids:
                listeners.append((address.strip("[]"), int(port), name))
    exposed = [
        entry
        for entry in listeners
        if not (lambda ip: (getattr(ip, "ipv4_mapped", None) or ip).is_loopback)(ipaddress.ip_address(entry[0]))
    ]
    assert exposed == [], exposed
    ports = {port for _, port, _ in listeners}
    for name in (
        "RAY_GCS_PORT",
        "STRIDE_RAY_CLIENT_SERVER_PORT",
        "STRIDE_RAY_DASHBOARD_AGENT_LISTEN_PORT",
        "STRIDE_RAY_NODE_MANAGER_PORT",
    ):
        assert int(ray_head[name]) in ports, (name, sorted(listeners))
    assert {"gcs_server", "raylet"} <= {name for _, _, name in listeners}


def test_make_up_ray_refuses_an_unauthenticated_job_submission(ray_head: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{ray_head['STRIDE_RAY_DASHBOARD_AGENT_LISTEN_PORT']}/api/job_agent/jobs/"
    marker = Path(ray_head["STRIDE_STATE_DIR"]) / "job-api-ran-this"
    job = {"entrypoint": f"touch {marker}", "submission_id": "unauthenticated-probe"}
    assert httpx.post(url, json=job, timeout=10).status_code == 401
    assert httpx.post(url, json=job, headers={"Authorization": "Bearer " + "0" * 64}, timeout=10).status_code == 403
    # the token opens it (an empty body is then refused as malformed, not as unauthorized)
    assert httpx.post(
        url, json={}, headers={"Authorization": f"Bearer {_token(ray_head)}"}, timeout=10
    ).status_code not in (401, 403)
    time.sleep(1)
    assert not marker.exists()


def test_make_up_ray_gcs_refuses_calls_without_the_token(ray_head: dict[str, str]) -> None:
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    def nodes(metadata: list[tuple[str, str]] | None) -> int:
        with grpc.insecure_channel(f"127.0.0.1:{ray_head['RAY_GCS_PORT']}") as channel:
            stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
            return len(
                stub.GetAllNodeInfo(
                    gcs_service_pb2.GetAllNodeInfoRequest(), timeout=10, metadata=metadata
                ).node_info_list
            )

    with pytest.raises(grpc.RpcError) as err:
        nodes(None)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert nodes([("authorization", f"Bearer {_token(ray_head)}")]) == 1
