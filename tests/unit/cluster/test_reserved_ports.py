"""cluster/ports.sh reserves every fixed port the stack's scripts define (a port added to env.sh or ray-env.sh and
forgotten there could be taken by an outgoing connection's ephemeral local port before its service binds it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _expand(spec: str) -> set[int]:
    out: set[int] = set()
    for item in spec.split(","):
        lo, _, hi = item.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def test_every_port_the_scripts_define_is_reserved() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PORT") and "PORT" not in k}
    script = "source cluster/env.sh >/dev/null; source cluster/ray-env.sh >/dev/null; env"
    shown = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    defined = {
        int(value)
        for name, _, value in (line.partition("=") for line in shown.stdout.splitlines())
        if name.endswith("_PORT") and value.isdigit()
    }
    reserved = _expand(
        subprocess.run(
            ["bash", "cluster/ports.sh", "--print"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    assert defined, "no *_PORT found in cluster/env.sh and cluster/ray-env.sh"
    assert defined <= reserved, f"not reserved: {sorted(defined - reserved)}"
    assert {57404, 57101, 57500, 57501, 8100} <= reserved  # the test stack's (tests/conftest.py defaults)
