"""Reports that check themselves: a rollup corrupted on purpose shows in `consistency` and is
repaired by `rebuild`; rebuilding while sales are recorded leaves the rollups exactly equal
to the raw rows (MariaDB, real connections); bad ranges are 422 problems."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db import Database
from common.models.catalog import Product
from common.models.identity import Role
from common.models.sales import SalesDaily, SalesDailyCategory
from tests.fixtures.clients import client_for, make_products
from tests.fixtures.factories import Catalog
from tests.fixtures.ledgers import raw_totals, rollup_totals

API = "/api/v1/analytics"
DAY = date(2026, 3, 10)


async def sell(sales: AsyncClient, product_id: int, quantity: int, day: date) -> dict[str, Any]:
    sold_at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    response = await sales.post(
        "/api/v1/sales",
        json={"product_id": product_id, "quantity": quantity, "sold_at": sold_at.isoformat()},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def check(sales: AsyncClient, start: date, end: date) -> dict[str, Any]:
    response = await sales.get(
        f"{API}/consistency", params={"start": start.isoformat(), "end": end.isoformat()}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_sound_store_checks_ok(admin_sales_client: AsyncClient, catalog: Catalog) -> None:
    product = await catalog.product(category_id=await catalog.category(), price="5.00")
    sale = await sell(admin_sales_client, product, 2, DAY)
    report = await check(admin_sales_client, DAY - timedelta(days=3), DAY)
    assert (report["ok"], report["days_checked"], report["mismatches"]) == (True, 4, [])
    assert report["ledger"]["stock_mismatches"] == 0
    assert report["ledger"]["products_checked"] >= 1
    assert report["last_sale_at"] == sale["sold_at"]


async def test_a_corrupted_rollup_shows_and_rebuild_repairs_it(
    admin_sales_client: AsyncClient, catalog: Catalog, session: AsyncSession
) -> None:
    category = await catalog.category()
    product = await catalog.product(category_id=category, price="5.00")
    other = await catalog.product(category_id=category, price="3.00")
    await sell(admin_sales_client, product, 2, DAY)
    await sell(admin_sales_client, other, 1, DAY + timedelta(days=1))
    # Corrupt on purpose: units of one product's day, revenue of its category's day, and a
    # rollup row no sale explains.
    await session.execute(
        update(SalesDaily).where(SalesDaily.product_id == product).values(units_sold=7)
    )
    await session.execute(
        update(SalesDailyCategory)
        .where(SalesDailyCategory.business_date == DAY)
        .values(revenue=Decimal("99.00"))
    )
    session.add(
        SalesDaily(
            business_date=DAY - timedelta(days=1),
            product_id=other,
            category_id=category,
            units_sold=1,
            units_refunded=0,
            revenue=Decimal("3.00"),
            refunds=Decimal("0"),
            cost=Decimal("0"),
            sales_count=1,
            refund_count=0,
        )
    )
    await session.commit()

    report = await check(admin_sales_client, DAY - timedelta(days=2), DAY + timedelta(days=2))
    assert report["ok"] is False
    found = {(m["business_date"], m["scope"], m["id"], m["field"]): m for m in report["mismatches"]}
    units = found[(DAY.isoformat(), "product", product, "units_sold")]
    assert (units["rollup"], units["raw"]) == ("7", "2")
    revenue = found[(DAY.isoformat(), "category", category, "revenue")]
    assert (Decimal(revenue["rollup"]), Decimal(revenue["raw"])) == (Decimal(99), Decimal(10))
    stray = found[((DAY - timedelta(days=1)).isoformat(), "product", other, "units_sold")]
    assert (stray["rollup"], stray["raw"]) == ("1", "0")
    assert report["mismatch_count"] == len(report["mismatches"])

    rebuilt = await admin_sales_client.post(
        f"{API}/rollups/rebuild",
        json={
            "start": (DAY - timedelta(days=2)).isoformat(),
            "end": (DAY + timedelta(days=2)).isoformat(),
        },
    )
    assert rebuilt.status_code == 200, rebuilt.text
    assert rebuilt.json() == {
        "start": (DAY - timedelta(days=2)).isoformat(),
        "end": (DAY + timedelta(days=2)).isoformat(),
        "days": 5,
        "product_rows": 2,
        "category_rows": 2,
        "order_rows": 0,
        "customer_rows": 0,
        "accounts_rewritten": 0,
    }
    after = await check(admin_sales_client, DAY - timedelta(days=2), DAY + timedelta(days=2))
    assert (after["ok"], after["mismatches"]) == (True, [])
    assert await rollup_totals(session) == await raw_totals(session)


async def test_a_stock_level_out_of_step_with_its_ledger_shows(
    admin_sales_client: AsyncClient, catalog: Catalog, session: AsyncSession
) -> None:
    product = await catalog.product(category_id=await catalog.category(), stock=5)
    await session.execute(update(Product).where(Product.id == product).values(stock_on_hand=6))
    await session.commit()
    report = await check(admin_sales_client, DAY, DAY)
    assert (report["ok"], report["ledger"]["stock_mismatches"]) == (False, 1)
    assert report["mismatches"] == []


@pytest.mark.parametrize(
    ("method", "path", "payload", "code"),
    [
        ("GET", "/consistency", {"start": "2026-03-02", "end": "2026-03-01"}, "invalid_range"),
        ("GET", "/consistency", {"start": "2025-01-01", "end": "2026-01-02"}, "invalid_range"),
        ("GET", "/consistency", {"end": "2026-03-01"}, "validation_failed"),
        ("GET", "/consistency", {"start": "2026-02-30", "end": "2026-03-01"}, "validation_failed"),
        ("POST", "/rollups/rebuild", {"start": "2026-03-02", "end": "2026-03-01"}, "invalid_range"),
        ("POST", "/rollups/rebuild", {"start": "2024-01-01", "end": "2026-01-01"}, "invalid_range"),
        ("POST", "/rollups/rebuild", {"start": "2026-03-01"}, "validation_failed"),
        ("POST", "/rollups/rebuild", {"start": "1", "end": "2026-03-01"}, "validation_failed"),
        (
            "POST",
            "/rollups/rebuild",
            {"start": "2026-03-01", "end": "2026-03-01", "all": True},
            "validation_failed",
        ),
    ],
)
async def test_bad_ranges_are_422_problems(
    admin_sales_client: AsyncClient,
    method: str,
    path: str,
    payload: dict[str, Any],
    code: str,
) -> None:
    if method == "GET":
        response = await admin_sales_client.get(f"{API}{path}", params=payload)
    else:
        response = await admin_sales_client.post(f"{API}{path}", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_customers_may_not_check_or_rebuild(
    settings: Settings, isolated_database: Database
) -> None:
    async for customer in client_for("sales", settings, isolated_database, as_=Role.customer):
        checked = await customer.get(
            f"{API}/consistency", params={"start": "2026-03-01", "end": "2026-03-02"}
        )
        rebuilt = await customer.post(
            f"{API}/rollups/rebuild", json={"start": "2026-03-01", "end": "2026-03-02"}
        )
        assert (checked.status_code, rebuilt.status_code) == (403, 403)


@pytest.mark.mysql_only
async def test_rebuilding_while_sales_are_recorded_leaves_rollups_equal_to_the_raw_rows(
    settings: Settings, committed_database: Database
) -> None:
    products = await make_products(settings, committed_database, 1000, 1000, 1000, price="2.00")
    days = [DAY + timedelta(days=offset) for offset in range(3)]
    async for sales in client_for("sales", settings, committed_database, as_=Role.admin):
        # Some sales before, so every rebuild has rows to delete and write again.
        for product in products:
            await sell(sales, product, 1, days[0])

        async def rebuild_repeatedly(sales: AsyncClient = sales) -> list[int]:
            statuses = []
            for _ in range(8):
                response = await sales.post(
                    f"{API}/rollups/rebuild",
                    json={"start": days[0].isoformat(), "end": days[-1].isoformat()},
                )
                statuses.append(response.status_code)
            return statuses

        async def record(index: int, sales: AsyncClient = sales) -> int:
            await asyncio.sleep(0.002 * (index % 10))
            response = await sales.post(
                "/api/v1/sales",
                json={
                    "product_id": products[index % len(products)],
                    "quantity": 1 + index % 3,
                    "sold_at": f"{days[index % len(days)].isoformat()}T{index % 24:02d}:00:00Z",
                },
            )
            return response.status_code

        rebuilds, *recorded = await asyncio.gather(
            rebuild_repeatedly(), *(record(index) for index in range(90))
        )
        assert rebuilds == [200] * 8
        assert recorded == [201] * 90
        report = await check(sales, days[0], days[-1])
    assert (report["ok"], report["mismatch_count"]) == (True, 0)
    async with committed_database.session_factory() as session:
        assert await rollup_totals(session) == await raw_totals(session)
        categories = (await session.execute(select(SalesDailyCategory))).scalars().all()
        assert sum(row.sales_count for row in categories) == 90 + len(products)
