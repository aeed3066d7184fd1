"""Demo data: a store with a year of history, so a new dashboard shows something at once.

`seed_demo` fills an empty catalog with categories and products (`products`), customers
(`customers`), a year of sales and refunds (`sales`) with the stock ledger they move
(`ledger`), the customers' orders in every state (`orders`), their reviews (`reviews`) and
their wallets (`customers`). Everything is derived from one `random.Random(seed)` and the end
date, so the same options give the same rows: the stages run, and draw, in the order below.

Written for volume (1,000,000 sales in minutes): rows are generated in time order in Python,
with explicit ids, and sent as multi-row INSERTs in batches (`writer`). Stock is tracked in
Python and written to `product.stock_on_hand` once at the end; both sales rollups are built
once at the end with `rebuild_rollups`, and the order rollups with `rebuild_all_orders`. The
result is exactly what booking each sale through `common.sales.service` would have produced:
`reconcile`, `reconcile_wallets` and a rollup rebuild all agree with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from common.models.catalog import Category, Product
from common.models.sales import Sale
from common.ops.demo.customers import seed_customers, seed_wallets
from common.ops.demo.options import CatalogNotEmpty, DemoOptions, DemoSummary, InvalidDemoOptions
from common.ops.demo.orders import seed_pending_orders
from common.ops.demo.products import seed_catalog, store_levels
from common.ops.demo.reviews import seed_reviews
from common.ops.demo.sales import seed_sales
from common.ops.demo.state import DemoStore
from common.ops.demo.writer import table_of
from common.orders.rollups import rebuild_all_orders
from common.reviews.ratings import recount_ratings
from common.sales.service import rebuild_rollups


async def _ensure_empty_catalog(connection: AsyncConnection) -> None:
    for model in (Category, Product, Sale):
        if await connection.scalar(select(table_of(model).c.id).limit(1)) is not None:
            raise CatalogNotEmpty(
                f"the database already has rows in `{table_of(model).name}`; demo data is only "
                "written into an empty catalog (use a fresh database)"
            )


async def seed_demo(
    session: AsyncSession,
    options: DemoOptions,
    *,
    timezone: ZoneInfo,
    password_hash: str,
    progress: bool = False,
) -> DemoSummary:
    """Write the demo store into an empty catalog, in the caller's transaction.

    Raises `CatalogNotEmpty` when categories, products or sales exist already, and
    `InvalidDemoOptions` when the history would end today or later (sales are never in the future).
    """
    today = datetime.now(timezone).date()
    end = options.end or today - timedelta(days=1)
    if end >= today:
        raise InvalidDemoOptions(f"the history must end before today ({today}); got {end}")
    start = end - timedelta(days=options.days - 1)
    connection = await session.connection()
    await _ensure_empty_catalog(connection)
    store = DemoStore(
        connection, options, timezone=timezone, start=start, end=end, show_progress=progress
    )
    try:
        await seed_catalog(store)
        await store.writer.flush()
        await seed_customers(store, password_hash)
        await seed_sales(store)
        await seed_pending_orders(store)
        await seed_reviews(store)
        await seed_wallets(store)
        await store.writer.flush()
        await store_levels(store)
        await recount_ratings(session)
        store.stage("rollups")
        await rebuild_rollups(session)
        await rebuild_all_orders(session, timezone)
        store.progress.update()
    finally:
        store.progress.close()
    return store.summary
