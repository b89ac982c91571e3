"""Drive Debian's `wrk` (a C load generator) for cheap GET endpoints, where a Python generator would measure itself.

Each request is the next (path, headers) pair from a list, round-robin, via a generated Lua script; results are
parsed from `wrk --latency` (requests/s, p50, p99)."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _lua(requests: list[tuple[str, dict[str, str]]]) -> str:
    rows = []
    for path, headers in requests:
        hs = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
        rows.append(f'wrk.format("GET", "{path}", {{{hs}}})')
    return ("local reqs = {" + ",\n".join(rows) + "}\nlocal i = 0\n"
            "request = function()\n  i = (i % #reqs) + 1\n  return reqs[i]\nend\n"
            "local errors = 0\nresponse = function(status) if status >= 300 then errors = errors + 1 end end\n"
            "done = function() io.write(string.format('NON2XX %d\\n', errors)) end\n")


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * _UNIT_MS[unit]


def parse(output: str) -> dict[str, Any]:
    """requests/s, p50/p99 in ms and the non-2xx count from wrk --latency output."""
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", output, re.M))
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": round(_ms(pct["50"]), 2), "p99_ms": round(_ms(pct["99"]), 2),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "non_2xx": int(re.search(r"NON2XX (\d+)", output).group(1)) if "NON2XX" in output else None,
    }


def available() -> bool:
    """Whether wrk is installed (cluster/bench.sh installs it)."""
    return shutil.which("wrk") is not None


def run(base_url: str, requests: list[tuple[str, dict[str, str]]], *, concurrency: int = 20, duration_s: float = 15,
        threads: int = 1) -> dict[str, Any]:
    """Closed-loop load with `concurrency` connections for `duration_s`."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(requests))
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{int(duration_s)}s", "--latency",
                              "-s", script.name, base_url], capture_output=True, text=True, timeout=duration_s + 60,
                             check=True).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    return {"generator": "wrk", "concurrency": concurrency, "duration_s": duration_s, **parse(out)}
