"""The test session's Ray refuses clients without the token (issue 9, item 1).

The session's Ray runs with RAY_AUTH_MODE=token and the stack's token (.state/secrets/ray-token), like `make up`'s
(whose head, job API included, tests/integration/test_ray_head.py checks). A GCS call without the token (or with
another one) is UNAUTHENTICATED; with it, it answers. A process without the token cannot even start a driver
(a bounded wait: Ray keeps retrying, it never gets in), one with it can.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from tests.conftest import RAY_TOKEN_PATH


@pytest.fixture(scope="module")
def gcs_address(ray_cluster: None) -> str:
    import ray

    return ray._private.worker._global_node.gcs_address


def _token() -> str:
    return RAY_TOKEN_PATH.read_text().strip()


def _get_all_nodes(address: str, metadata: list[tuple[str, str]] | None) -> int:
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        reply = stub.GetAllNodeInfo(gcs_service_pb2.GetAllNodeInfoRequest(), timeout=10, metadata=metadata)
        return len(reply.node_info_list)


def test_gcs_refuses_calls_without_the_token(gcs_address: str) -> None:
    assert gcs_address.startswith("127.0.0.1:")
    for metadata in (None, [("authorization", "Bearer " + "0" * 64)]):
        with pytest.raises(grpc.RpcError) as err:
            _get_all_nodes(gcs_address, metadata)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _get_all_nodes(gcs_address, [("authorization", f"Bearer {_token()}")]) == 1


DRIVER = """
import sys, ray
ray.init(address=sys.argv[1], log_to_driver=False)
print("connected", ray.cluster_resources().get("CPU"))
"""


def _driver(address: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            [sys.executable, "-c", DRIVER, address], env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None


def test_a_driver_without_the_token_is_refused_and_one_with_it_joins(gcs_address: str, tmp_path: Path) -> None:
    # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 keeps 127.0.0.1 as the address (else Ray rewrites it to the machine's
    # external one, where nothing listens); an empty HOME means no ~/.ray/auth_token to fall back on
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    refused = _driver(gcs_address, base, timeout=120)
    assert refused is not None and refused.returncode != 0 and "connected" not in refused.stdout
    assert "AuthenticationError" in refused.stderr, refused.stderr[-2000:]
    with_token = _driver(
        gcs_address, {**base, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(RAY_TOKEN_PATH)}, timeout=120
    )
    assert with_token is not None and with_token.returncode == 0, with_token and with_token.stderr[-2000:]
    assert "connected 2.0" in with_token.stdout
