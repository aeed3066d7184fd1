"""The daily rollup always equals the raw sales, and rebuilding it is idempotent."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import delete

from common.db import Database
from common.models.sales import SalesDaily
from common.sales.service import rebuild_rollups, record_refund, record_sale
from products_microservice.catalog.schemas import CategoryCreate, ProductCreate
from products_microservice.catalog.service import create_category, create_product
from tests.fixtures.databases import Backend
from tests.fixtures.factories import Catalog
from tests.fixtures.ledgers import raw_totals, rollup_totals
from tests.fixtures.processes import run_cli

TOKYO = ZoneInfo("Asia/Tokyo")


async def test_rollup_equals_raw_after_sales_refunds_and_rebuilds(
    catalog: Catalog, isolated_database: Database
) -> None:
    rng = random.Random(7)
    categories = [await catalog.category() for _ in range(2)]
    products = [
        await catalog.product(category_id=categories[i % 2], price=f"{5 + i}.25", stock=10_000)
        for i in range(5)
    ]
    async with isolated_database.session_factory() as session:
        sales = []
        start = datetime(2025, 3, 1, tzinfo=UTC)
        for _ in range(300):
            moment = start + timedelta(minutes=rng.randrange(60 * 24 * 60))
            sales.append(
                await record_sale(
                    session,
                    product_id=rng.choice(products),
                    quantity=rng.randint(1, 4),
                    sold_at=moment,
                    timezone=TOKYO,
                )
            )
        for sale in rng.sample(sales, 40):
            await record_refund(
                session,
                sale=sale,
                quantity=rng.randint(1, sale.quantity),
                timezone=TOKYO,
                refunded_at=sale.sold_at + timedelta(hours=rng.randint(1, 72)),
            )
        raw = await raw_totals(session)
        assert raw  # the generator produced something to compare
        assert await rollup_totals(session) == raw

        await session.execute(delete(SalesDaily))
        assert await rollup_totals(session) == []
        written = await rebuild_rollups(session)
        assert written == len(raw)
        assert await rollup_totals(session) == raw
        await rebuild_rollups(session)
        assert await rollup_totals(session) == raw

        some_day = raw[len(raw) // 2][0]
        await session.execute(delete(SalesDaily).where(SalesDaily.business_date >= some_day))
        await rebuild_rollups(session, start=some_day, end=None)
        assert await rollup_totals(session) == raw


async def test_business_date_is_the_store_local_day(
    catalog: Catalog, isolated_database: Database
) -> None:
    product = await catalog.product(category_id=await catalog.category())
    async with isolated_database.session_factory() as session:
        late_utc = datetime(2025, 5, 31, 16, 30, tzinfo=UTC)  # 01:30 on 1 June in Tokyo
        sale = await record_sale(
            session, product_id=product, quantity=1, sold_at=late_utc, timezone=TOKYO
        )
        assert sale.business_date.isoformat() == "2025-06-01"


async def test_rebuild_rollups_command_uses_the_configured_database(
    committed_database: Database, backend: Backend
) -> None:
    async with committed_database.session_factory() as session:
        category = await create_category(session, CategoryCreate(name="Rebuilt"))
        product = await create_product(
            session,
            ProductCreate(
                sku="REBUILD-1",
                name="Rebuilt",
                category_id=category.id,
                price=Decimal("3.50"),
                initial_stock=10,
            ),
        )
        sold_at = datetime(2025, 2, 3, 12, tzinfo=UTC)
        await record_sale(
            session, product_id=product.id, quantity=2, sold_at=sold_at, timezone=TOKYO
        )
        await session.execute(delete(SalesDaily))
        await session.commit()
    code, out, err = await run_cli(backend.url, "rebuild-rollups", "--from", "2025-01-01")
    assert code == 0, err
    assert out.strip().splitlines() == [
        "sales_daily rebuilt: 1 rows",
        "order_daily rebuilt: 0 rows; customer_daily: 0 rows; lifetime figures corrected: "
        "0 accounts",
    ]
    async with committed_database.session_factory() as session:
        assert await rollup_totals(session) == await raw_totals(session)
        assert len(await raw_totals(session)) == 1
