"""Import path for Serve config files and KubeRay (`serve_app.cluster_entry:app`): settings from the environment.

Building the bound application reads settings only; every connection is made later, inside the replicas."""

from __future__ import annotations

from config.settings import Settings
from serve_app.app import build_app, build_socket_app

app = build_app(Settings())
live_sockets = build_socket_app(Settings())  # route prefix /ws (serve_app.app.SOCKET_ROUTE_PREFIX)
