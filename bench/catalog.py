"""Catalog scenario: reads of a large ledger next to a primary-key read, in one run.

Seeds a fresh MariaDB/MySQL database (10,000 products, 100 movements each by default) with
bulk multi-row INSERTs through the driver, starts the products service with uvicorn (uvloop,
httptools) on it, and measures each endpoint with an async httpx client at fixed concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiomysql
import httpx
from alembic import command
from sqlalchemy.engine import make_url

from common.cli import alembic_config

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_catalog"
CATEGORIES = 50
CHUNK_PRODUCTS = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("catalog")
    group.add_argument(
        "--server-url",
        default=os.environ.get("BENCH_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/"),
        help="MySQL-family server (a database named bench_catalog is dropped and recreated)",
    )
    group.add_argument("--products", type=int, default=10_000)
    group.add_argument("--movements-per-product", type=int, default=100)
    group.add_argument("--concurrency", type=int, default=16)
    group.add_argument("--requests", type=int, default=3000, help="per endpoint, at most")
    group.add_argument("--seconds", type=float, default=20.0, help="per endpoint, at most")
    group.add_argument("--port", type=int, default=0, help="default: a free port")
    group.add_argument("--reuse", action="store_true", help="keep an already seeded database")


# --- seeding ---------------------------------------------------------------------------------


async def _connect(server_url: str, database: str | None) -> aiomysql.Connection:
    url = make_url(server_url)
    return await aiomysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        db=database,
        charset="utf8mb4",
        autocommit=False,
    )


async def _recreate(server_url: str) -> str:
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


def _ledger(product_id: int, count: int, start: datetime, rng: random.Random) -> list[tuple]:
    """`count` movements over a year: an opening stock, then sales and restocks."""
    rows = []
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


async def seed(server_url: str, products: int, per_product: int) -> str:
    url = await _recreate(server_url)
    rng = random.Random(42)
    now = datetime.now(UTC).replace(tzinfo=None)
    start = now - timedelta(days=366)
    connection = await _connect(server_url, DATABASE)
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
        await cursor.execute("ANALYZE TABLE category, product, inventory_movement")
        await cursor.fetchall()
    connection.close()
    elapsed = time.perf_counter() - started
    print(f"seeded {products} products, {products * per_product} movements in {elapsed:.0f} s")
    return url


# --- the service -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_service(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": "20",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "products_microservice.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


async def wait_ready(base_url: str) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the products service did not become ready")


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(
    client: httpx.AsyncClient,
    name: str,
    make_path: Callable[[random.Random], str],
    *,
    concurrency: int,
    requests: int,
    seconds: float,
) -> Result:
    rng = random.Random(7)
    for _ in range(50):  # warm the pool and the server's caches
        (await client.get(make_path(rng))).raise_for_status()
    latencies: list[float] = []
    issued = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal issued
        while issued < requests and time.perf_counter() < deadline:
            issued += 1
            path = make_path(rng)
            sent = time.perf_counter()
            response = await client.get(path)
            latencies.append((time.perf_counter() - sent) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, len(latencies), time.perf_counter() - started, latencies)


def report(results: list[Result]) -> str:
    baseline = results[0]
    lines = [
        "| endpoint | requests | req/s | p50 ms | p99 ms | p50 vs PK read |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.name} | {result.requests} | {result.rps:.0f} | "
            f"{result.percentile(0.5):.1f} | {result.percentile(0.99):.1f} | "
            f"{result.percentile(0.5) / baseline.percentile(0.5):.2f}x |"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    if args.reuse:
        url = make_url(args.server_url).set(database=DATABASE).render_as_string(False)
    else:
        url = await seed(args.server_url, args.products, args.movements_per_product)
    port = args.port or _free_port()
    service = start_service(url, port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base_url)
        now = datetime.now(UTC)
        products = args.products

        def as_of(rng: random.Random) -> str:
            moment = now - timedelta(days=rng.uniform(1, 360))
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            return f"/api/v1/inventory?as_of={stamp}&limit=50"

        scenarios: list[tuple[str, Callable[[random.Random], str]]] = [
            (
                "GET /products/{id} (PK read)",
                lambda r: f"/api/v1/products/{r.randint(1, products)}",
            ),
            ("GET /inventory/low-stock", lambda r: "/api/v1/inventory/low-stock?limit=50"),
            (
                "GET /products/{id}/inventory/movements",
                lambda r: f"/api/v1/products/{r.randint(1, products)}/inventory/movements?limit=50",
            ),
            ("GET /inventory?as_of=...", as_of),
        ]
        limits = httpx.Limits(max_connections=args.concurrency)
        results = []
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
            for name, make_path in scenarios:
                results.append(
                    await measure(
                        client,
                        name,
                        make_path,
                        concurrency=args.concurrency,
                        requests=args.requests,
                        seconds=args.seconds,
                    )
                )
        print(
            f"{products} products, {products * args.movements_per_product} movements, "
            f"concurrency {args.concurrency}, {os.cpu_count()} CPUs, "
            f"{datetime.now(UTC):%Y-%m-%d}"
        )
        print(report(results))
    finally:
        service.terminate()
        service.wait(timeout=10)
