"""Many clients selling the last units of one product at once, on real connections."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from common.config import Settings
from common.db import Database
from common.inventory.audit import reconcile
from common.models.catalog import Product
from common.models.identity import Role
from common.models.sales import Sale
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.clients import serve_as
from tests.fixtures.factories import Catalog
from tests.fixtures.ledgers import raw_totals, rollup_totals


@pytest.mark.mysql_only
async def test_hundred_concurrent_sales_never_oversell(
    settings: Settings, committed_database: Database
) -> None:
    products_app = build_products_app(settings=settings, database=committed_database)
    async for products in serve_as(products_app, settings, committed_database, Role.admin):
        catalog = Catalog(products)
        product = await catalog.product(category_id=await catalog.category(), stock=40)

    sales_app = build_sales_app(settings=settings, database=committed_database)
    async for sales in serve_as(sales_app, settings, committed_database, Role.admin):
        responses = await asyncio.gather(
            *(
                sales.post("/api/v1/sales", json={"product_id": product, "quantity": 1})
                for _ in range(100)
            )
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(201) == 40
    assert statuses.count(409) == 60
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"insufficient_stock"}

    async with committed_database.session_factory() as session:
        stock = await session.scalar(select(Product.stock_on_hand).where(Product.id == product))
        sold = await session.scalar(
            select(func.sum(Sale.quantity)).where(Sale.product_id == product)
        )
        assert (stock, sold) == (0, 40)
        assert await reconcile(session) == []
        assert await rollup_totals(session) == await raw_totals(session)
