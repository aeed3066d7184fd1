"""`python -m bench registration`: a flood of concurrent registrations (no sign-in needed, each
an Argon2id hash at the production profile: t=3, 64 MiB, p=4) against the real sales service,
while a signed-in client keeps reading `/auth/me`.

Issue 13 measured 40 of them, unbounded, taking the service from 90 to 1650 MB with an
unrelated read waiting 4.9 s. With `PASSWORD_HASH_MAX_CONCURRENCY` (2) the peak RSS should stay
under 400 MiB, and the reads during the flood are compared with the same reads on the quiet
service, in the same run (the ratio is the figure; no absolute time is a target).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx

from bench import harness

DATABASE = "bench_registration"
SALES_APP = "sales_microservice.main:app"
TARGET_PEAK_RSS_MIB = 400
PASSWORD = "a registration passphrase"  # noqa: S105 (a benchmark's throwaway accounts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("registration")
    group.add_argument("--registrations", type=int, default=50, help="sent at once")


async def _flood(base_url: str, count: int) -> tuple[float, list[int]]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=limits) as client:

        async def register(n: int) -> int:
            response = await client.post(
                "/api/v1/auth/register",
                json={
                    "email": f"flood-{n}-{uuid.uuid4().hex[:8]}@example.com",
                    "password": PASSWORD,
                    "full_name": f"Flood {n}",
                },
            )
            return response.status_code

        started = time.perf_counter()
        statuses = await asyncio.gather(*(register(n) for n in range(count)))
        return time.perf_counter() - started, list(statuses)


async def run(args: argparse.Namespace) -> None:
    count = max(1, args.registrations)
    url = await harness.recreate_database(args.server_url, DATABASE)
    headers = await harness.admin_headers(url)
    reads = harness.get(lambda _rng: "/auth/me")
    env = {"REGISTER_MAX_PER_ADDRESS": str(count)}
    async with (
        harness.running("sales", SALES_APP, url, env=env) as sales,
        harness.client_for(sales, concurrency=4, headers=headers) as client,
    ):
        quiet = await harness.measure(
            client, "reads of /auth/me, quiet", reads, concurrency=4, requests=400,
            seconds=args.seconds, service=sales,
        )  # fmt: skip
        flood = asyncio.create_task(_flood(sales.base_url, count))
        during = await harness.measure(
            client, f"reads of /auth/me during {count} registrations", reads, concurrency=4,
            requests=200, seconds=args.seconds, warmup=0, service=sales,
        )  # fmt: skip
        seconds, statuses = await flood
        sales.sample()
        peak = sales.peak_rss_mib
    created = statuses.count(201)
    harness.print_table(
        "registration: reads while registrations are hashed",
        [quiet, during],
        baseline=quiet,
        ratio="latency",
        notes=f"{created} of {count} registrations created in {seconds:.1f} s "
        f"(statuses {sorted(set(statuses))}); peak RSS {peak:.0f} MiB, target < "
        f"{TARGET_PEAK_RSS_MIB} MiB: {'met' if peak < TARGET_PEAK_RSS_MIB else 'MISSED'}",
    )
