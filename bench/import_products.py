"""Import scenario: `POST /products/import` of a generated CSV through the real service, next
to a plain batched INSERT of the same rows through the driver, in one run.

For each file size (20,000 and 100,000 rows by default) it recreates the database
`bench_import`, starts the products service with uvicorn on MariaDB/MySQL, uploads the file as
an admin and reads the service process's peak RSS (VmHWM) from /proc: a flat peak across sizes
shows memory does not follow the file. Then it recreates the database and inserts the same
products with multi-row INSERTs of 500 rows through aiomysql (no validation, no ledger).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from alembic import command
from sqlalchemy.engine import make_url

from bench.catalog import _connect, _free_port, start_service, wait_ready
from common.cli import alembic_config, create_admin
from common.config import Settings

DATABASE = "bench_import"
CATEGORIES = 50
BATCH = 500
ADMIN_EMAIL = "bench-admin@example.test"
ADMIN_PASSWORD = "bench-password-1"  # noqa: S105 (a throwaway local benchmark account)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("import")
    group.add_argument(
        "--import-rows",
        type=int,
        nargs="+",
        default=[20_000, 100_000],
        help="file sizes to import, in rows",
    )


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["sku", "name", "description", "category", "price", "cost_price",
             "low_stock_threshold", "stock"]
        )  # fmt: skip
        for n in range(rows):
            writer.writerow(
                [f"IMP-{n:07d}", f"Imported product {n}", f"Row {n} of the benchmark file",
                 f"Category {n % CATEGORIES}", f"{5 + n % 500}.99", f"{2 + n % 300}.50",
                 5, n % 200]
            )  # fmt: skip


async def recreate(server_url: str) -> str:
    connection = await _connect(server_url, None)
    async with connection.cursor() as cursor:
        await cursor.execute(f"DROP DATABASE IF EXISTS `{DATABASE}`")
        await cursor.execute(
            f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    connection.close()
    url = make_url(server_url).set(database=DATABASE).render_as_string(hide_password=False)
    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    await asyncio.to_thread(command.upgrade, config, "head")
    return url


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


@dataclass
class ImportRun:
    rows: int
    seconds: float
    idle_rss_mib: float
    peak_rss_mib: float
    report: dict[str, object]


async def import_through_service(server_url: str, path: Path, rows: int) -> ImportRun:
    url = await recreate(server_url)
    await create_admin(
        Settings(_env_file=None, database_url=url),  # type: ignore[call-arg]
        email=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
    )
    port = _free_port()
    service = start_service(url, port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base_url)
        async with httpx.AsyncClient(base_url=base_url, timeout=3600) as client:
            token = (
                await client.post(
                    "/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
                )
            ).json()["access_token"]
            idle = _kib(service.pid, "VmRSS")
            started = time.perf_counter()
            with path.open("rb") as file:
                response = await client.post(
                    "/api/v1/products/import",
                    params={"create_categories": "true"},
                    files={"file": (path.name, file, "text/csv")},
                    headers={"Authorization": f"Bearer {token}"},
                )
            seconds = time.perf_counter() - started
            peak = _kib(service.pid, "VmHWM")
        response.raise_for_status()
        return ImportRun(rows, seconds, idle / 1024, peak / 1024, response.json())
    finally:
        service.terminate()
        service.wait(timeout=30)


async def plain_insert(server_url: str, path: Path) -> tuple[int, float]:
    """The same products as multi-row INSERTs of 500 through the driver: the floor."""
    await recreate(server_url)
    connection = await _connect(server_url, DATABASE)
    now = datetime.now(UTC).replace(tzinfo=None)
    async with connection.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO category (id, name, name_key, slug, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (n + 1, f"Category {n}", f"category {n}", f"category-{n}", now, now)
                for n in range(CATEGORIES)
            ],
        )
        await connection.commit()
        started = time.perf_counter()
        count = 0
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            next(reader)
            batch: list[tuple[object, ...]] = []
            for sku, name, description, category, price, cost, threshold, _stock in reader:
                category_id = int(category.rsplit(" ", 1)[1]) + 1
                batch.append(
                    (sku, name, description, category_id, price, cost, threshold, now, now)
                )
                if len(batch) == BATCH:
                    count += await _insert(cursor, batch)
            if batch:
                count += await _insert(cursor, batch)
        await connection.commit()
        seconds = time.perf_counter() - started
    connection.close()
    return count, seconds


async def _insert(cursor: object, batch: list[tuple[object, ...]]) -> int:
    # aiomysql rewrites an executemany INSERT ... VALUES into one multi-row statement.
    await cursor.executemany(  # type: ignore[attr-defined]
        "INSERT INTO product (sku, name, description, category_id, price, cost_price, "
        "low_stock_threshold, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        batch,
    )
    size = len(batch)
    batch.clear()
    return size


async def run(args: argparse.Namespace) -> None:
    lines = [
        "| file rows | file MiB | import s | import rows/s | plain INSERT rows/s | ratio "
        "| service RSS idle MiB | service peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as directory:
        for rows in args.import_rows:
            path = Path(directory) / f"catalog-{rows}.csv"
            write_csv(path, rows)
            imported = await import_through_service(args.server_url, path, rows)
            assert imported.report["created"] == rows, imported.report
            inserted, insert_seconds = await plain_insert(args.server_url, path)
            import_rate = rows / imported.seconds
            insert_rate = inserted / insert_seconds
            lines.append(
                f"| {rows:,} | {path.stat().st_size / 2**20:.1f} | {imported.seconds:.1f} "
                f"| {import_rate:,.0f} | {insert_rate:,.0f} | {import_rate / insert_rate:.2f} "
                f"| {imported.idle_rss_mib:.0f} | {imported.peak_rss_mib:.0f} |"
            )
            print(lines[-1], flush=True)
    print(f"{os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d}")
    print("\n".join(lines))
