"""Issue 13, attack 4: 50 concurrent registrations (no sign-in needed) against a real sales
service at the production Argon2 profile (t=3, 64 MiB, p=4). Unbounded, 40 of them took the
service from 90 to 1650 MB and an unrelated wallet read waited 4.9 s. With at most
`PASSWORD_HASH_MAX_CONCURRENCY` (2) hashes at once, the service's peak RSS stays under 400 MB
and a read sent while they run answers before the registrations are through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from common.config import Settings
from common.db import Database
from tests.fixtures.databases import Backend
from tests.fixtures.factories import API, PASSWORD, bearer, make_account, unique_email
from tests.fixtures.processes import SALES_APP, ServiceProcess

REGISTRATIONS = 50
MAX_PEAK_RSS_MB = 400
PRODUCTION_ARGON2 = {
    "PASSWORD_HASH_TIME_COST": "3",
    "PASSWORD_HASH_MEMORY_COST_KIB": "65536",
    "PASSWORD_HASH_PARALLELISM": "4",
    "PASSWORD_HASH_MAX_CONCURRENCY": "2",
    "REGISTER_MAX_PER_ADDRESS": str(REGISTRATIONS),
}


@pytest.fixture
async def sales_process(backend: Backend) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess(backend, SALES_APP, environment=PRODUCTION_ARGON2)
    await process.start()
    yield process
    await process.kill()


def peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (`VmHWM`): a peak between two
    samples is not missed."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc (not Linux?)")


async def test_fifty_concurrent_registrations_keep_memory_bounded_and_reads_answering(
    settings: Settings, committed_database: Database, sales_process: ServiceProcess
) -> None:
    assert sales_process.process is not None
    pid = sales_process.process.pid
    customer = await make_account(committed_database, settings)
    finished: list[str] = []
    first_done = asyncio.Event()
    async with httpx.AsyncClient(base_url=sales_process.url, timeout=600) as client:
        started_rss = peak_rss_mb(pid)

        async def register(n: int) -> int:
            response = await client.post(
                f"{API}/auth/register",
                json={"email": unique_email(f"flood{n}"), "password": PASSWORD, "full_name": "F"},
            )
            finished.append("registration")
            first_done.set()
            return response.status_code

        async def read_wallet() -> int:
            # Sent once the flood is under way (one registration through, the rest queued).
            await first_done.wait()
            response = await client.get(
                f"{API}/customers/{customer.id}/wallet", headers=bearer(customer, settings)
            )
            finished.append("read")
            return response.status_code

        statuses = await asyncio.gather(*(register(n) for n in range(REGISTRATIONS)), read_wallet())
    peak = peak_rss_mb(pid)
    print(f"sales RSS: {started_rss:.0f} MB at start, peak {peak:.0f} MB")
    assert statuses == [201] * REGISTRATIONS + [200]
    assert peak < MAX_PEAK_RSS_MB
    # The read did not queue behind the hashing: it finished while most were still waiting.
    assert finished.index("read") < REGISTRATIONS // 2
