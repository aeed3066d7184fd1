"""Import scenario: `POST /products/import` of a generated CSV through the real service, next
to a plain batched INSERT of the same rows through the driver, in one run.

For each file size (20,000 and 100,000 rows by default) it recreates the database
`bench_import`, starts the products service with uvicorn on MariaDB/MySQL, uploads the file as
an admin and samples the service process's RSS: a flat peak across sizes shows memory does not
follow the file. Then it recreates the database and inserts the same products with multi-row
INSERTs of 500 rows through aiomysql (no validation, no ledger).
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import harness

DATABASE = "bench_import"
CATEGORIES = 50
BATCH = 500


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


@dataclass
class ImportRun:
    rows: int
    seconds: float
    idle_rss_mib: float
    peak_rss_mib: float
    report: dict[str, object]


async def import_through_service(server_url: str, path: Path, rows: int) -> ImportRun:
    url = await harness.recreate_database(server_url, DATABASE)
    headers = await harness.admin_headers(url)
    async with (
        harness.running("products", "products_microservice.main:app", url) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=3600, headers=headers) as client,
    ):
        service.sample()
        idle = service.peak_rss_mib
        started = time.perf_counter()
        with path.open("rb") as file:
            response = await client.post(
                "/api/v1/products/import",
                params={"create_categories": "true"},
                files={"file": (path.name, file, "text/csv")},
            )
        seconds = time.perf_counter() - started
        service.sample()
    response.raise_for_status()
    return ImportRun(rows, seconds, idle, service.peak_rss_mib, response.json())


async def plain_insert(server_url: str, path: Path) -> tuple[int, float]:
    """The same rows as multi-row INSERTs of 500 through the driver: the floor.

    "The same rows" are what the import writes: each product with its stock level, and the
    `import` ledger movement that explains that level (read back by SKU to know the product
    ids, as any writer of the ledger must). No validation, no locks, no guards."""
    await harness.recreate_database(server_url, DATABASE)
    connection = await harness.connect(server_url, DATABASE)
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
            for sku, name, description, category, price, cost, threshold, stock in reader:
                category_id = int(category.rsplit(" ", 1)[1]) + 1
                batch.append(
                    (sku, name, description, category_id, price, cost, threshold, int(stock),
                     now, now)
                )  # fmt: skip
                if len(batch) == BATCH:
                    count += await _insert(cursor, batch, now)
            if batch:
                count += await _insert(cursor, batch, now)
        await connection.commit()
        seconds = time.perf_counter() - started
    connection.close()
    return count, seconds


async def _insert(cursor: Any, batch: list[tuple[object, ...]], now: datetime) -> int:
    # aiomysql rewrites an executemany INSERT ... VALUES into one multi-row statement.
    await cursor.executemany(
        "INSERT INTO product (sku, name, description, category_id, price, cost_price, "
        "low_stock_threshold, stock_on_hand, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        batch,
    )
    stock = {row[0]: row[7] for row in batch}
    placeholders = ", ".join(["%s"] * len(stock))  # only placeholders: the SKUs are parameters
    await cursor.execute(f"SELECT id, sku FROM product WHERE sku IN ({placeholders})", list(stock))  # noqa: S608
    # Only placeholders in VALUES: the driver rewrites it into one multi-row INSERT.
    await cursor.executemany(
        "INSERT INTO inventory_movement (product_id, kind, delta, quantity_after, reference, "
        "created_at) VALUES (%s, %s, %s, %s, %s, %s)",
        [
            (product_id, "import", stock[sku], stock[sku], "import", now)
            for product_id, sku in await cursor.fetchall()
            if stock[sku]
        ],
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
