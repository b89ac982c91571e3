"""Ray hooks that keep every Ray listener on the node's own address (docs/security.md, "Ray control plane").

Ray Serve 2.60 starts each replica's inter-deployment gRPC server on "[::]:0" (every interface), hard-coded, with no
setting (upstream: ray-project/ray#64623 adds a port range, not a host). Every other Ray listener follows the node's
address, which the local stack pins to 127.0.0.1. Two supported Ray hooks close the gap without touching Ray's code:

  RAY_RUNTIME_ENV_HOOK=config.ray_hooks.runtime_env_hook   (cluster/ray-env.sh, the test session, KubeRay)
      called by every `ray.init` of a driver (serve_app.deploy, the tests): adds the worker setup hook below to the
      job's runtime_env, which Serve passes on to the app's replicas;
  worker_process_setup_hook = config.ray_hooks.bind_grpc_to_node_ip
      runs in each of those worker processes before any actor code: a gRPC bind on a wildcard host is made on the
      node's IP instead (127.0.0.1 on one machine, the pod IP on a cluster, where other nodes still reach it).

The wrapped function is `ray._common.tls_utils.add_port_to_grpc_server` (Serve's replica binds through it so that
RAY_USE_TLS applies); if a Ray upgrade renames it, the hook raises and the worker fails loudly rather than silently
listening everywhere. tests/e2e/test_listeners.py checks the result by PID.
"""

from __future__ import annotations

import sys
from typing import Any

SETUP_HOOK = "config.ray_hooks.bind_grpc_to_node_ip"
_WILDCARDS = ("[::]", "0.0.0.0", "::", "")


def runtime_env_hook(runtime_env: dict[str, Any] | None) -> dict[str, Any]:
    """RAY_RUNTIME_ENV_HOOK: the driver's runtime_env plus the worker setup hook (an existing one is kept)."""
    env = dict(runtime_env or {})
    env.setdefault("worker_process_setup_hook", SETUP_HOOK)
    return env


def _node_address(address: str) -> str:
    host, _, port = address.rpartition(":")
    if host not in _WILDCARDS:
        return address
    import ray

    ip = ray.util.get_node_ip_address()
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def bind_grpc_to_node_ip() -> None:
    """worker_process_setup_hook: gRPC servers of this worker bind the node's IP, never a wildcard."""
    from ray._common import tls_utils

    original = tls_utils.add_port_to_grpc_server
    if getattr(original, "stride_node_ip_only", False):
        return

    def add_port_to_grpc_server(server: Any, address: str) -> int:
        return original(server, _node_address(address))

    add_port_to_grpc_server.stride_node_ip_only = True  # type: ignore[attr-defined]
    tls_utils.add_port_to_grpc_server = add_port_to_grpc_server
    # modules that imported the function by name before this hook ran
    for name in ("ray.serve._private.replica",):
        module = sys.modules.get(name)
        if module is not None:
            if not hasattr(module, "add_port_to_grpc_server"):
                raise RuntimeError(
                    f"{name} no longer binds through add_port_to_grpc_server: update config/ray_hooks.py"
                )
            module.add_port_to_grpc_server = add_port_to_grpc_server
