"""Request-path scenarios on the demo store: each endpoint of a service next to the raw
Starlette + asyncmy app (`bench.raw_app`) doing the same SQL, both served the same way, and
the services' peak memory under load.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update

from bench import harness
from common.db import Database
from common.inventory.audit import reconcile
from common.inventory.ledger import record_movement
from common.models.catalog import Product
from common.models.inventory import InventoryMovement, MovementKind
from common.ops.demo.options import DemoOptions

DATABASE = "bench_store"
STORE = DemoOptions(products=1000, days=365, sales=20_000, customers=50, seed=11)
PRODUCTS_APP = "products_microservice.main:app"
SALES_APP = "sales_microservice.main:app"
RAW_APP = "bench.raw_app:app"
HOT_PRODUCTS = 10
SALE_CLIENTS = 32
PAGE = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("memory")
    group.add_argument(
        "--memory-seconds", type=float, default=30.0, help="load on both services, at most"
    )


async def store(args: argparse.Namespace) -> str:
    return await harness.demo_database(args, DATABASE, STORE, quiet=True)


@dataclass(frozen=True)
class Contender:
    """One side of a comparison: a served app and how to send it the request."""

    name: str
    app: str
    send: harness.Send
    admin: bool = False


async def _measure(
    args: argparse.Namespace,
    url: str,
    contender: Contender,
    *,
    concurrency: int,
    expected: tuple[int, ...] = (200,),
) -> harness.Result:
    headers = await harness.admin_headers(url) if contender.admin else None
    async with (
        harness.running(contender.name, contender.app, url) as service,
        harness.client_for(service, concurrency=concurrency, headers=headers) as client,
    ):
        return await harness.measure(
            client,
            contender.name,
            contender.send,
            concurrency=concurrency,
            requests=args.requests,
            seconds=args.seconds,
            expected=expected,
            service=service,
        )


async def _compare(
    args: argparse.Namespace,
    title: str,
    raw: Contender,
    api: Contender,
    *,
    target: float,
    concurrency: int,
    expected: tuple[int, ...] = (200,),
) -> tuple[harness.Result, harness.Result]:
    url = await store(args)
    baseline = await _measure(args, url, raw, concurrency=concurrency, expected=expected)
    result = await _measure(args, url, api, concurrency=concurrency, expected=expected)
    ratio = result.rps / baseline.rps
    harness.print_table(
        f"{title}, concurrency {concurrency}",
        [baseline, result],
        baseline=baseline,
        ratio="throughput",
        notes=f"target >= {target}x of raw: {'met' if ratio >= target else 'MISSED'} "
        f"({ratio:.2f}x)",
    )
    return baseline, result


def _product_id(rng: random.Random) -> int:
    return rng.randint(1, STORE.products)


def _offset(rng: random.Random) -> int:
    return rng.randrange(STORE.products // PAGE) * PAGE


async def _compare_reads(
    args: argparse.Namespace, title: str, api_name: str, path: Callable[[random.Random], str]
) -> None:
    """The same GET (`path`, under `/api/v1` for the service) on the raw app and the
    products service."""
    await _compare(
        args,
        title,
        Contender("raw Starlette + asyncmy", RAW_APP, harness.get(path)),
        Contender(api_name, PRODUCTS_APP, harness.get(lambda r: f"/api/v1{path(r)}")),
        target=0.5,
        concurrency=args.concurrency,
    )


async def product_read(args: argparse.Namespace) -> None:
    await _compare_reads(
        args,
        "product-read: GET a product by id",
        "GET /api/v1/products/{id}",
        lambda r: f"/products/{_product_id(r)}",
    )


async def product_list(args: argparse.Namespace) -> None:
    await _compare_reads(
        args,
        f"product-list: a page of {PAGE} active products by name, with the total",
        "GET /api/v1/products",
        lambda r: f"/products?limit={PAGE}&offset={_offset(r)}",
    )


def _sell(path: str) -> harness.Send:
    async def send(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        product_id = rng.randint(1, HOT_PRODUCTS)
        return await client.post(path, json={"product_id": product_id, "quantity": 1})

    return send


@asynccontextmanager
async def _database(url: str) -> AsyncIterator[Database]:
    database = Database.from_settings(harness.settings_for(url))
    try:
        yield database
    finally:
        await database.dispose()


async def _restock_hot_products(url: str, units: int) -> None:
    """Enough stock on the hot products that no sale is refused, through the ledger."""
    async with _database(url) as database, database.session_factory() as session:
        for product_id in range(1, HOT_PRODUCTS + 1):
            await record_movement(
                session,
                product_id=product_id,
                kind=MovementKind.RESTOCK,
                delta=units,
                actor="bench",
            )
        await session.commit()


async def _ledger_problems(url: str) -> int:
    async with _database(url) as database, database.session_factory() as session:
        return len(await reconcile(session))


async def record_sale(args: argparse.Namespace) -> None:
    url = await store(args)
    await _restock_hot_products(url, units=2 * (args.requests + 100))
    api = Contender("POST /api/v1/sales", SALES_APP, _sell("/api/v1/sales"), admin=True)
    raw = Contender("raw conditional UPDATE + INSERT", RAW_APP, _sell("/sales"))
    # The service first: the ledger must reconcile after its run. The raw baseline then
    # changes stock without ledger entries, as the floor it stands for.
    result = await _measure(args, url, api, concurrency=SALE_CLIENTS, expected=(201,))
    problems = await _ledger_problems(url)
    baseline = await _measure(args, url, raw, concurrency=SALE_CLIENTS, expected=(201,))
    ratio = result.rps / baseline.rps
    harness.print_table(
        f"record-sale: {SALE_CLIENTS} clients selling 1 unit of {HOT_PRODUCTS} hot products",
        [baseline, result],
        baseline=baseline,
        ratio="throughput",
        notes=f"target >= 0.4x of raw: {'met' if ratio >= 0.4 else 'MISSED'} ({ratio:.2f}x); "
        f"ledger after the service's run: "
        f"{'reconciled' if problems == 0 else f'{problems} problems'}",
    )
    # The baseline bypassed the ledger; put the cached levels back to what the ledger says,
    # so later scenarios on this store start consistent.
    await _restore_cached_stock(url)


async def _restore_cached_stock(url: str) -> None:
    ledger_total = (
        select(func.sum(InventoryMovement.delta))
        .where(InventoryMovement.product_id == Product.id)
        .scalar_subquery()
    )
    async with _database(url) as database, database.session_factory() as session:
        await session.execute(
            update(Product)
            .where(Product.id <= HOT_PRODUCTS)
            .values(stock_on_hand=ledger_total)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


async def memory(args: argparse.Namespace) -> None:
    """Both services under mixed load at once (reads, lists, sales, analytics), next to the
    raw app under read load: peak RSS of each process."""
    url = await store(args)
    await _restock_hot_products(url, units=1_000_000)
    headers = await harness.admin_headers(url)
    seconds = args.memory_seconds
    reads = harness.get(lambda r: f"/api/v1/products/{_product_id(r)}")
    pages = harness.get(lambda r: f"/api/v1/products?limit=200&offset={_offset(r)}")
    sell = _sell("/api/v1/sales")
    async with (
        harness.running("raw", RAW_APP, url) as raw,
        harness.client_for(raw, concurrency=args.concurrency) as raw_client,
    ):
        baseline = await harness.measure(
            raw_client,
            "raw Starlette app (product reads)",
            harness.get(lambda r: f"/products/{_product_id(r)}"),
            concurrency=args.concurrency,
            requests=10 * args.requests,
            seconds=seconds,
            service=raw,
        )
    async with (
        harness.running("products", PRODUCTS_APP, url) as products,
        harness.running("sales", SALES_APP, url) as sales,
        harness.client_for(products, concurrency=args.concurrency) as products_client,
        harness.client_for(sales, concurrency=args.concurrency, headers=headers) as sales_client,
    ):
        loads = await asyncio.gather(
            harness.measure(
                products_client,
                "products service (reads, pages of 200)",
                _mix(reads, pages),
                concurrency=args.concurrency,
                requests=10 * args.requests,
                seconds=seconds,
                service=products,
            ),
            harness.measure(
                sales_client,
                "sales service (sales, year reports)",
                _mix(sell, _year_report()),
                concurrency=args.concurrency,
                requests=10 * args.requests,
                seconds=seconds,
                expected=(200, 201),
                service=sales,
            ),
        )
    worst = max(result.peak_rss_mib or 0 for result in loads)
    harness.print_table(
        "memory: peak RSS under load",
        [baseline, *loads],
        baseline=baseline,
        ratio="memory",
        notes=f"target < 200 MiB per service: {'met' if worst < 200 else 'MISSED'} "
        f"(largest {worst:.0f} MiB)",
    )


def _mix(*sends: harness.Send) -> harness.Send:
    async def send(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        return await rng.choice(sends)(client, rng)

    return send


def _year_report() -> harness.Send:
    """The dashboard's heaviest reads: a year by day, and the top products of the year."""
    end = datetime.now(UTC).date()
    period = f"start={end - timedelta(days=364)}&end={end}"
    return _mix(
        harness.get(lambda r: f"/api/v1/analytics/revenue?interval=day&{period}"),
        harness.get(lambda r: f"/api/v1/analytics/revenue/by-product?limit=50&{period}"),
    )
