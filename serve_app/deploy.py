"""Deploy (or redeploy) the Stride Serve app onto a running Ray cluster: `python -m serve_app.deploy`."""

from __future__ import annotations

import sys
import time

import ray
from ray import serve

from config.settings import Settings
from serve_app.app import SOCKET_ROUTE_PREFIX, build_app, build_socket_app

APP_NAME = "stride"
SOCKET_APP_NAME = "stride-live"  # the live WebSockets, at /ws (serve_app.app.StrideLive)


def deploy(settings: Settings, *, blocking_ready: bool = True) -> None:
    """Create (or confirm) the actor topology, start Serve's HTTP ingress on the settings' host/port and run the
    app at route prefix '/' and the live sockets' app at '/ws'."""
    from actors.topology import deploy as deploy_topology

    handles = deploy_topology(settings)
    serve.start(http_options={"host": settings.http_host, "port": settings.http_port}, detached=True)
    serve.run(build_app(settings, handles.topology), name=APP_NAME, route_prefix="/", blocking=False)
    serve.run(
        build_socket_app(settings, handles.topology),
        name=SOCKET_APP_NAME,
        route_prefix=SOCKET_ROUTE_PREFIX,
        blocking=False,
    )
    if blocking_ready:
        wait_running(timeout_s=180)
        wait_running(timeout_s=180, app=SOCKET_APP_NAME)


def wait_running(timeout_s: float, app: str = APP_NAME) -> None:
    """Wait until Serve reports the app RUNNING."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = serve.status().applications.get(app)
        if status is not None and str(status.status).endswith("RUNNING"):
            return
        if status is not None and str(status.status).endswith("DEPLOY_FAILED"):
            raise RuntimeError(f"Serve app failed to deploy: {status.message}")
        time.sleep(0.5)
    raise TimeoutError(f"Serve app not running after {timeout_s:.0f}s")


def main() -> int:
    """CLI: connect to the running Ray head and deploy."""
    settings = Settings()
    ray.init(address=settings.ray_address, namespace=settings.ray_namespace, log_to_driver=False)
    deploy(settings)
    print(f"stride serving on http://{settings.http_host}:{settings.http_port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
