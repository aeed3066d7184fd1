"""Catalog scenario: reads of a large ledger next to a primary-key read, in one run.

Seeds a fresh MariaDB/MySQL database (10,000 products, 100 movements each by default) with
bulk multi-row INSERTs through the driver (a ledger this size is not what the demo store
looks like, so it has its own loader), starts the products service through the harness and
measures each endpoint at fixed concurrency, as ratios of the primary-key read's p50.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench import harness

DATABASE = "bench_catalog"
CATEGORIES = 50
CHUNK_PRODUCTS = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("catalog")
    group.add_argument("--products", type=int, default=10_000)
    group.add_argument("--movements-per-product", type=int, default=100)


# --- seeding ---------------------------------------------------------------------------------


def _ledger(
    product_id: int, count: int, start: datetime, rng: random.Random
) -> list[tuple[object, ...]]:
    """`count` movements over a year: an opening stock, then sales and restocks."""
    rows: list[tuple[object, ...]] = []
    level = rng.randint(50, 200)
    step = timedelta(days=365) / count
    at = start + timedelta(seconds=rng.randint(0, 3600))
    rows.append((product_id, "initial", level, level, None, "bench", None, at))
    for _ in range(count - 1):
        at += step
        if level > 0 and rng.random() < 0.8:
            delta = -rng.randint(1, min(level, 5))
            kind = "sale"
        else:
            delta = rng.randint(5, 40)
            kind = "restock"
        level += delta
        rows.append((product_id, kind, delta, level, None, "bench", None, at))
    return rows


async def seed(
    server_url: str, products: int, per_product: int, *, database: str = DATABASE
) -> str:
    url = await harness.recreate_database(server_url, database)
    rng = random.Random(42)
    now = datetime.now(UTC).replace(tzinfo=None)
    start = now - timedelta(days=366)
    connection = await harness.connect(server_url, database)
    started = time.perf_counter()
    async with connection.cursor() as cursor:
        # Bulk load: the data is generated consistent, so skip per-row checks.
        await cursor.execute("SET foreign_key_checks = 0, unique_checks = 0")
        await cursor.executemany(
            "INSERT INTO category (id, name, name_key, slug, description, created_at, "
            "updated_at) VALUES (%s, %s, %s, %s, NULL, %s, %s)",
            [
                (i, f"Category {i}", f"category {i}", f"category-{i}", start, start)
                for i in range(1, CATEGORIES + 1)
            ],
        )
        for first in range(1, products + 1, CHUNK_PRODUCTS):
            product_rows = []
            movement_rows = []
            for product_id in range(first, min(first + CHUNK_PRODUCTS, products + 1)):
                ledger = _ledger(product_id, per_product, start, rng)
                movement_rows += ledger
                price = Decimal(rng.randint(100, 50_000)) / 100
                product_rows.append(
                    (
                        product_id,
                        f"BENCH-{product_id:06d}",
                        f"Bench product {product_id}",
                        rng.randint(1, CATEGORIES),
                        price,
                        (price * Decimal("0.6")).quantize(Decimal("0.01")),
                        rng.choice((5, 10, 20)),
                        ledger[-1][3],
                        start,
                        start,
                    )
                )
            await cursor.executemany(
                "INSERT INTO product (id, sku, name, category_id, price, cost_price, status, "
                "low_stock_threshold, stock_on_hand, created_at, updated_at) VALUES "
                "(%s, %s, %s, %s, %s, %s, 'active', %s, %s, %s, %s)",
                product_rows,
            )
            await cursor.executemany(
                "INSERT INTO inventory_movement (product_id, kind, delta, quantity_after, "
                "reference, actor, note, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                movement_rows,
            )
            await connection.commit()
    connection.close()
    await harness.analyze(server_url, database, ("category", "product", "inventory_movement"))
    elapsed = time.perf_counter() - started
    print(f"seeded {products} products, {products * per_product} movements in {elapsed:.0f} s")
    return url


async def run(args: argparse.Namespace) -> None:
    if args.reuse and await harness.database_exists(args.server_url, DATABASE):
        url = harness.database_url(args.server_url, DATABASE)
    else:
        url = await seed(args.server_url, args.products, args.movements_per_product)
    now = datetime.now(UTC)
    products = args.products

    def as_of(rng: random.Random) -> str:
        moment = now - timedelta(days=rng.uniform(1, 360))
        return f"/api/v1/inventory?as_of={moment:%Y-%m-%dT%H:%M:%SZ}&limit=50"

    endpoints = {
        "GET /products/{id} (PK read)": harness.get(
            lambda r: f"/api/v1/products/{r.randint(1, products)}"
        ),
        "GET /inventory/low-stock": harness.get(lambda r: "/api/v1/inventory/low-stock?limit=50"),
        "GET /products/{id}/inventory/movements": harness.get(
            lambda r: f"/api/v1/products/{r.randint(1, products)}/inventory/movements?limit=50"
        ),
        "GET /inventory?as_of=...": harness.get(as_of),
    }
    # The ledger and stock levels are admin reads.
    headers = await harness.admin_headers(url)
    async with (
        harness.running("products", "products_microservice.main:app", url) as service,
        harness.client_for(service, concurrency=args.concurrency, headers=headers) as client,
    ):
        results = [
            await harness.measure(
                client,
                name,
                send,
                concurrency=args.concurrency,
                requests=args.requests,
                seconds=args.seconds,
                service=service,
            )
            for name, send in endpoints.items()
        ]
    harness.print_table(
        f"catalog: {products} products, {products * args.movements_per_product} movements, "
        f"concurrency {args.concurrency}",
        results,
        baseline=results[0],
        ratio="latency",
    )
