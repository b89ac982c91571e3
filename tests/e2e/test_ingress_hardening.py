"""The running HAProxy ingress is hardened (issue 9, item 2): admin socket not world-writable, slow clients cut off.

Serve generates the HAProxy config; cluster/haproxy-hardened (the binary Serve runs, RAY_SERVE_HAPROXY_BINARY_PATH)
rewrites it on every start and reload. This checks the running HAProxy: its admin socket's mode, and that a client
which never finishes its request headers is answered 408 and closed (`timeout http-request`, 3 s in the test
session) instead of holding the connection for `timeout client` (an hour). The
loopback binds are checked by test_listeners.py, `option forwardfor` by test_client_address.py.
"""

from __future__ import annotations

import os
import socket
import stat

from tests.conftest import TEST_HAPROXY_DIR


def _live_config() -> str:
    """The config of this session's node (Serve keeps one folder per node id)."""
    import ray

    config = os.path.join(TEST_HAPROXY_DIR, ray.get_runtime_context().get_node_id(), "haproxy.cfg")
    assert os.path.isfile(config), config
    return config


def test_admin_socket_of_the_running_haproxy_is_private(serve_app: str) -> None:
    # (the config file on disk is not checked: Serve rewrites it before each reload and the wrapper hardens it
    # just before HAProxy starts, so between the two it is Serve's; what runs is always the hardened one)
    socket_path = os.path.join(os.path.dirname(_live_config()), "admin.sock")
    mode = stat.S_IMODE(os.stat(socket_path).st_mode)
    assert mode & 0o077 == 0, oct(mode)  # neither group nor others may drive HAProxy (Serve asks for 666)


def test_a_client_that_never_finishes_its_headers_is_cut_off(serve_app: str, settings) -> None:
    timeout_s = int(os.environ["STRIDE_HAPROXY_TIMEOUT_HTTP_REQUEST_S"])
    with socket.create_connection(("127.0.0.1", settings.http_port), timeout=10) as sock:
        sock.settimeout(timeout_s + 15)  # far below `timeout client` (3600 s): only http-request can end it
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: stride\r\nX-Slow: ")  # ...and never the rest
        reply = b""
        while chunk := sock.recv(4096):  # returns b"" once HAProxy closes; raises socket.timeout if it never does
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
