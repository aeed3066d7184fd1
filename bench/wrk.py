"""Load from wrk, a C client in its own process, so a figure measures the server and not the
harness: fixed concurrency, Lua scripts (bench/lua/) for random ids and bodies, and req/s, p50,
p99 and non-2xx counts read from the script's own report line."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"
REPORT_PREFIX = "WRK_JSON "


def wrk_binary() -> str:
    """The wrk executable, or a message saying how to install it."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "wrk is not installed: `apt-get install wrk` (Debian's package) and run again"
        )
    return found


@dataclass(frozen=True)
class WrkRun:
    """One wrk round against one server."""

    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_report(name: str, output: str) -> WrkRun:
    """The run described by the script's `WRK_JSON {...}` line in wrk's output."""
    lines = [line for line in output.splitlines() if line.startswith(REPORT_PREFIX)]
    if not lines:
        raise RuntimeError(f"wrk printed no report line for {name}:\n{output}")
    report = json.loads(lines[-1][len(REPORT_PREFIX) :])
    return WrkRun(
        name=name,
        requests=int(report["requests"]),
        seconds=report["duration_us"] / 1e6,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        non_2xx=int(report["non_2xx"]),
        socket_errors=int(report["socket_errors"]),
    )


async def run_wrk(
    name: str,
    base_url: str,
    script: str,
    script_args: Sequence[str],
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
) -> WrkRun:
    """`wrk` with `script` (a file under bench/lua/) at `connections` for `seconds`."""
    process = await asyncio.create_subprocess_exec(
        wrk_binary(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=10s",
        f"--script={LUA / script}",
        base_url,
        "--",
        *script_args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed for {name}:\n{output.decode(errors='replace')}")
    return parse_report(name, output.decode(errors="replace"))
