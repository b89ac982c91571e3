"""Drive Debian's `wrk` (a C load generator), so the generator costs little next to what it measures.

Each request is the next (method, path, headers, body) from a list, round-robin, via a generated Lua script; results
are parsed from `wrk --latency` (requests/s, p50/p90/p99, non-2xx), and the generator's own CPU time is taken from
the kernel's accounting of the wrk process (wait4 rusage)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
Request = tuple[str, dict[str, str]] | tuple[str, str, dict[str, str], bytes | None]


def _lua_str(value: str | bytes) -> str:
    """A Lua long-bracket string literal holding value exactly."""
    text = value.decode() if isinstance(value, bytes) else value
    level = "=" * 4
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def _normalise(req: Request) -> tuple[str, str, dict[str, str], bytes | None]:
    if len(req) == 2:
        path, headers = req  # type: ignore[misc]
        return "GET", path, headers, None
    return req  # type: ignore[return-value]


def _lua(requests: list[Request], ok_statuses: tuple[int, ...]) -> str:
    rows = []
    for req in requests:
        method, path, headers, body = _normalise(req)
        hs = ", ".join(f'["{k}"] = {_lua_str(v)}' for k, v in headers.items())
        body_lua = _lua_str(body) if body is not None else "nil"
        rows.append(f'wrk.format("{method}", {_lua_str(path)}, {{{hs}}}, {body_lua})')
    ok = ", ".join(f"[{s}] = true" for s in ok_statuses)
    return (
        "local reqs = {" + ",\n".join(rows) + "}\nlocal i = 0\n"
        "request = function()\n  i = (i % #reqs) + 1\n  return reqs[i]\nend\n"
        # `response` runs in each thread's own Lua state and `done` in another one: the count is a global of each
        # thread, summed through thread:get (a `local` in the script would read 0 in `done`, whatever happened)
        f"local ok = {{{ok}}}\nerrors = 0\nlocal threads = {{}}\n"
        "setup = function(thread) table.insert(threads, thread) end\n"
        "response = function(status) if not ok[status] then errors = errors + 1 end end\n"
        "done = function()\n  local n = 0\n  for _, t in ipairs(threads) do n = n + t:get('errors') end\n"
        "  io.write(string.format('NON2XX %d\\n', n))\nend\n"
    )


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT_MS[unit]


def parse(output: str) -> dict[str, Any]:
    """requests/s, p50/p90/p99 in ms and the unexpected-status count from wrk --latency output."""
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", output, re.M))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": round(_ms(pct["50"]), 2),
        "p90_ms": round(_ms(pct["90"]), 2),
        "p99_ms": round(_ms(pct["99"]), 2),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(re.search(r"NON2XX (\d+)", output).group(1)) if "NON2XX" in output else None,  # type: ignore[union-attr]
        "socket_errors": dict(
            zip(("connect", "read", "write", "timeout"), map(int, socket_errors.groups()), strict=True)
        )
        if socket_errors
        else {},
    }


def available() -> bool:
    """Whether wrk is installed (cluster/bench.sh installs it)."""
    return shutil.which("wrk") is not None


def run(
    base_url: str,
    requests: list[Request],
    *,
    concurrency: int = 20,
    duration_s: float = 15,
    threads: int = 1,
    ok_statuses: tuple[int, ...] = (200, 201, 204, 304),
    timeout_s: float = 10,
) -> dict[str, Any]:
    """Closed-loop load with `concurrency` connections for `duration_s`; includes the generator's CPU seconds."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(requests, ok_statuses))
    out_file = tempfile.NamedTemporaryFile("w+", suffix=".out", delete=False)  # noqa: SIM115 - closed in finally
    try:
        started = time.monotonic()
        proc = subprocess.Popen(
            [
                "wrk",
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{int(duration_s)}s",
                "--latency",
                f"--timeout={int(timeout_s)}s",
                "-s",
                script.name,
                base_url,
            ],
            stdout=out_file,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        out_file.seek(0)
        out = out_file.read()
        if proc.returncode != 0:
            raise RuntimeError(f"wrk failed ({proc.returncode}): {out[-2000:]}")
    finally:
        Path(script.name).unlink(missing_ok=True)
        out_file.close()
        Path(out_file.name).unlink(missing_ok=True)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "generator": "wrk",
        "concurrency": concurrency,
        "duration_s": duration_s,
        **parse(out),
        "generator_cpu_s": round(cpu, 2),
        "generator_cpu_pct_of_core": round(100 * cpu / wall, 1),
    }
