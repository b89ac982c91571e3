"""cluster/haproxy-hardened on the configuration the installed Ray Serve really generates (issue 9, items 2 and 9).

Serve offers no setting for these, so the wrapper it runs as its HAProxy binary rewrites each generated config;
these tests render Serve's own template (so a Ray upgrade that changes it is caught here) and check the result
with HAProxy itself. The running stack is checked by tests/e2e/test_ingress_hardening.py and test_listeners.py.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from ray.serve._private.haproxy import BackendConfig, HAProxyApi, HAProxyConfig, ServerConfig
from ray.serve.config import HTTPOptions

from tests.conftest import ROOT

WRAPPER = ROOT / "cluster" / "haproxy-hardened"


def _serve_config(tmp_path: Path) -> Path:
    """The config Ray Serve writes for one app with one replica (its template, its defaults)."""
    cfg = HAProxyConfig(
        http_options=HTTPOptions(host="127.0.0.1", port=18100),
        is_head=True,
        socket_path=str(tmp_path / "admin.sock"),
        server_state_base=str(tmp_path),
        server_state_file=str(tmp_path / "server-state"),
        stats_port=18404,
        metrics_port=18101,
        metrics_socket_path=str(tmp_path / "metrics.sock"),
    )
    backend = BackendConfig(
        name="http-stride",
        path_prefix="/",
        app_name="stride",
        servers=[ServerConfig(name="r1", host="127.0.0.1", port=18200)],
    )
    api = HAProxyApi(cfg=cfg, backend_configs={"stride": backend}, config_file_path=str(tmp_path / "haproxy.cfg"))
    api._generate_config_file_internal()
    return tmp_path / "haproxy.cfg"


def _section(text: str, header: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(header)
    body = []
    for line in lines[start + 1 :]:
        if line and not line[0].isspace():
            break
        body.append(line.strip())
    return body


def _harden(path: Path, **env: str) -> subprocess.CompletedProcess:
    # the wrapper's own defaults, whatever the session exported for its Ray (tests/conftest.py RAY_ENV)
    base = {k: v for k, v in os.environ.items() if not k.startswith("STRIDE_HAPROXY_")}
    return subprocess.run(
        [sys.executable, str(WRAPPER), "--check", str(path)],
        capture_output=True,
        text=True,
        env={**base, **env},
        check=False,
    )


def test_serve_generates_the_unsafe_config_the_wrapper_exists_for(tmp_path: Path) -> None:
    text = _serve_config(tmp_path).read_text()
    assert re.search(r"stats socket \S+ mode 666", text)
    assert "bind :18101" in text and "bind *:18404" in text
    assert "timeout http-request" not in text and "forwardfor" not in text


def test_wrapper_confines_admin_listeners_socket_and_adds_timeouts_and_forwardfor(tmp_path: Path) -> None:
    out = _harden(_serve_config(tmp_path))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert re.search(r"stats socket \S+ mode 600 level admin", text) and "mode 666" not in text
    assert "bind 127.0.0.1:18101" in _section(text, "frontend prometheus")
    assert "bind 127.0.0.1:18404" in _section(text, "listen stats")
    defaults = _section(text, "defaults")
    assert "timeout http-request 10s" in defaults and "option forwardfor" in defaults
    assert "bind 127.0.0.1:18100" in _section(text, "frontend http_frontend")  # the ingress keeps Serve's host
    binds = [line.split()[1] for line in text.splitlines() if line.strip().startswith("bind ")]
    assert binds and all(b.startswith("127.0.0.1:") for b in binds), binds
    hardened = tmp_path / "hardened.cfg"
    hardened.write_text(text)
    check = subprocess.run(["/usr/sbin/haproxy", "-c", "-f", str(hardened)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # idempotent: a second pass changes nothing
    again = _harden(hardened)
    assert again.returncode == 0 and again.stdout == text


def test_wrapper_settings_and_refusal_when_a_rule_cannot_apply(tmp_path: Path) -> None:
    out = _harden(
        _serve_config(tmp_path), STRIDE_HAPROXY_TIMEOUT_HTTP_REQUEST_S="3", STRIDE_HAPROXY_ADMIN_BIND="10.1.2.3"
    )
    assert "timeout http-request 3s" in out.stdout and "bind 10.1.2.3:18404" in out.stdout
    broken = tmp_path / "other.cfg"
    broken.write_text("global\n    maxconn 10\ndefaults\n    mode http\nfrontend x\n    bind *:1\n")
    refused = _harden(broken)
    assert refused.returncode == 78 and "refusing to start HAProxy" in refused.stderr


def test_wrapper_rewrites_in_place_then_runs_haproxy_with_the_same_arguments(tmp_path: Path) -> None:
    config = _serve_config(tmp_path)
    fake = tmp_path / "fake-haproxy"
    fake.write_text(f'#!/bin/sh\necho "$0 $*" > {tmp_path}/argv\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    run = subprocess.run(
        [str(WRAPPER), "-db", "-f", str(config), "-dR"],
        capture_output=True,
        text=True,
        env={**os.environ, "STRIDE_HAPROXY_BIN": str(fake)},
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "argv").read_text().strip() == f"{fake} -db -f {config} -dR"
    assert "option forwardfor" in config.read_text() and "mode 600" in config.read_text()
