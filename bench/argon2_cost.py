"""`python -m bench argon2`: what one password hash and one verification cost at the default
Argon2id profile (RFC 9106 low memory: t=3, 64 MiB, p=4), the figure docs/operations.md gives.

Calls the hasher the services use (`common.identity.passwords`) directly, one operation at a
time, so the figure is the cost of one sign-in on an idle machine; concurrent sign-ins share
the cores and queue. No database involved.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psutil

from bench import harness
from common.identity.passwords import password_hasher


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("argon2")
    group.add_argument("--argon2-rounds", type=int, default=20, help="hashes and verifications")


def _milliseconds(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"median {statistics.median(ordered) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
        f"min {ordered[0] * 1000:.0f} ms"
    )


async def run(args: argparse.Namespace) -> None:
    settings = harness.settings_for("sqlite+aiosqlite://")  # the defaults; no database is used
    hasher = password_hasher(settings)
    password = "correct horse battery staple"  # noqa: S105
    stored = hasher.hash(password)  # warm-up, and the hash the verifications check
    hashes, verifications = [], []
    for _ in range(max(1, args.argon2_rounds)):
        started = time.perf_counter()
        hasher.hash(password)
        hashes.append(time.perf_counter() - started)
        started = time.perf_counter()
        hasher.verify(stored, password)
        verifications.append(time.perf_counter() - started)
    print(
        f"argon2id t={hasher.time_cost} m={hasher.memory_cost} KiB p={hasher.parallelism} on "
        f"{psutil.cpu_count()} logical CPU(s), {len(hashes)} rounds"
    )
    print(f"  hash:   {_milliseconds(hashes)}")
    print(f"  verify: {_milliseconds(verifications)}")
