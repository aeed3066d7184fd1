"""Stock alerts fire exactly at their thresholds when 50 sales race for one product."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from httpx import AsyncClient

from common.config import Settings
from common.db import Database
from common.models.identity import Role
from tests.fixtures.clients import client_for
from tests.fixtures.factories import API, create_category, create_product


@pytest.fixture
async def admin_clients(
    settings: Settings, committed_database: Database
) -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    async for sales in client_for("sales", settings, committed_database, as_=Role.admin):
        async for products in client_for("products", settings, committed_database, as_=Role.admin):
            yield sales, products


async def test_fifty_concurrent_sales_fire_low_and_out_once_each_at_their_levels(
    admin_clients: tuple[AsyncClient, AsyncClient],
) -> None:
    sales, products = admin_clients
    category = await create_category(products)
    product = await create_product(
        products, category_id=category["id"], initial_stock=50, low_stock_threshold=10
    )
    answers = await asyncio.gather(
        *(
            sales.post(f"{API}/sales", json={"product_id": product["id"], "quantity": 1})
            for _ in range(50)
        )
    )
    assert sorted(answer.status_code for answer in answers) == [201] * 50
    refused = await sales.post(f"{API}/sales", json={"product_id": product["id"], "quantity": 1})
    assert refused.status_code == 409
    events = (await sales.get(f"{API}/events", params={"limit": 200})).json()["items"]
    alerts = [
        (event["type"], event["changes"]["available"])
        for event in events
        if event["type"].startswith("stock.") and event["data"].get("product_id") == product["id"]
    ]
    assert alerts == [("stock.low", [11, 10]), ("stock.out", [1, 0])]
    assert len([event for event in events if event["type"] == "sale.recorded"]) == 50
