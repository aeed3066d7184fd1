"""A real products service reading a large import keeps answering: product reads sent once the
file is uploaded, while the service reads and validates it, all finish before the import. And
its memory does not follow the number of failed rows: the report keeps the first 1,000."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import psutil
import pytest

from common.config import Settings
from common.db import Database
from common.models import Role
from tests.fixtures.clients import make_products
from tests.fixtures.databases import Backend
from tests.fixtures.factories import API, bearer, make_account
from tests.fixtures.imports import CSV_TYPE, csv_bytes
from tests.fixtures.processes import PRODUCTS_APP, ServiceProcess

# Rows that all fail validation (SKU and price): reading and validating are the whole work,
# as in a dry run of a big file. Some 2 MB, and seconds of validation.
ROWS = 60_000
# Keeping every failed row and error of this file took the service some 110 MiB more; with
# the first 1,000 kept, some 6 MiB.
MAX_RSS_GROWTH_MIB = 40
READS = 5
BOUNDARY = "import-stall-boundary"


@pytest.fixture
async def products_process(backend: Backend) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess(backend, PRODUCTS_APP)
    yield process
    await process.kill()


def multipart(filename: str, content: bytes) -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {CSV_TYPE}\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def test_product_reads_finish_while_a_large_import_is_read(
    settings: Settings, committed_database: Database, products_process: ServiceProcess
) -> None:
    (product,) = await make_products(settings, committed_database, 7)
    admin = await make_account(committed_database, settings, role=Role.admin)
    rows = [["sku", "name", "category", "price"]]
    rows += [[f"bad sku {n}", f"Product {n}", "Tea", "-1"] for n in range(ROWS)]
    body = multipart("catalog.csv", csv_bytes(rows))
    uploaded = asyncio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]
        uploaded.set()  # the transport has sent the last chunk: the service reads the file now

    await products_process.start()
    assert products_process.process is not None
    service = psutil.Process(products_process.process.pid)
    idle_rss = peak_rss = service.memory_info().rss
    finished: list[str] = []
    async with httpx.AsyncClient(base_url=products_process.url, timeout=120) as client:
        importing = asyncio.create_task(
            client.post(
                f"{API}/products/import",
                params={"dry_run": "true", "on_error": "skip"},
                content=chunks(),
                headers={
                    "content-type": f"multipart/form-data; boundary={BOUNDARY}",
                    **bearer(admin, settings),
                },
            )
        )
        importing.add_done_callback(lambda _: finished.append("import"))
        await uploaded.wait()
        for _ in range(READS):
            read = await client.get(f"{API}/products/{product}")
            assert (read.status_code, read.json()["id"]) == (200, product)
            finished.append("read")
            peak_rss = max(peak_rss, service.memory_info().rss)
        imported = await importing
    peak_rss = max(peak_rss, service.memory_info().rss)
    assert finished == ["read"] * READS + ["import"]
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert (report["rows"], report["failed"], report["errors_total"]) == (ROWS, ROWS, 2 * ROWS)
    assert len(report["errors"]) == 1000
    assert (peak_rss - idle_rss) / 2**20 < MAX_RSS_GROWTH_MIB
