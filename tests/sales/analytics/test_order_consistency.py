"""The order rollups check themselves too: a corrupted `order_daily`, `customer_daily` or
lifetime figure shows in `consistency` and is repaired by `rebuild`; rebuilding while orders
are placed, paid and cancelled leaves every order rollup exactly equal to the raw orders
(MariaDB, real connections)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db import Database
from common.models.identity import Role, UserAccount
from common.models.orders import CustomerDaily, CustomerOrder, OrderDaily
from common.orders.rollups import lifetime_mismatches, order_mismatches
from tests.fixtures.clients import client_for, make_products
from tests.fixtures.factories import Catalog, bearer, make_account

API = "/api/v1/analytics"
ORDERS = "/api/v1/orders"


def today(settings: Settings) -> date:
    return datetime.now(settings.timezone).date()


async def check(sales: AsyncClient, start: date, end: date) -> dict[str, Any]:
    response = await sales.get(
        f"{API}/consistency", params={"start": start.isoformat(), "end": end.isoformat()}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def place_and_pay(
    sales: AsyncClient, headers: dict[str, str], product: int, quantity: int, *, pay: bool = True
) -> int:
    body = {"items": [{"product_id": product, "quantity": quantity}], "shipping_address": "1 St"}
    placed = await sales.post(ORDERS, json=body, headers=headers)
    assert placed.status_code == 201, placed.text
    order_id = int(placed.json()["id"])
    action = "pay" if pay else "cancel"
    done = await sales.post(f"{ORDERS}/{order_id}/{action}", json={"reason": "t"}, headers=headers)
    assert done.status_code == 200, done.text
    return order_id


async def test_corrupted_order_rollups_show_and_rebuild_repairs_them(
    admin_sales_client: AsyncClient,
    sales_client: AsyncClient,
    catalog: Catalog,
    session: AsyncSession,
    isolated_database: Database,
    settings: Settings,
) -> None:
    product = await catalog.product(category_id=await catalog.category(), price="4.00")
    buyer = await make_account(isolated_database, settings, balance=Decimal("50.00"))
    headers = bearer(buyer, settings)
    await place_and_pay(sales_client, headers, product, 2)
    await place_and_pay(sales_client, headers, product, 1, pay=False)
    day = today(settings)
    assert (await check(admin_sales_client, day, day))["ok"] is True

    await session.execute(update(OrderDaily).values(orders_paid=5))
    await session.execute(update(CustomerDaily).values(paid_spend=Decimal("1.00")))
    await session.execute(
        update(UserAccount).where(UserAccount.id == buyer.id).values(orders_count=9)
    )
    await session.commit()
    report = await check(admin_sales_client, day, day)
    assert report["ok"] is False
    found = {(m["scope"], m["id"], m["field"]): m for m in report["mismatches"]}
    paid = found[("orders", 0, "orders_paid")]
    assert (paid["rollup"], paid["raw"]) == ("5", "1")
    spend = found[("customer", buyer.id, "paid_spend")]
    assert (Decimal(spend["rollup"]), Decimal(spend["raw"])) == (Decimal(1), Decimal(8))
    assert report["ledger"]["lifetime_mismatches"] == 1
    assert report["mismatch_count"] == 2

    rebuilt = await admin_sales_client.post(
        f"{API}/rollups/rebuild", json={"start": day.isoformat(), "end": day.isoformat()}
    )
    assert rebuilt.status_code == 200, rebuilt.text
    assert {
        k: rebuilt.json()[k] for k in ("order_rows", "customer_rows", "accounts_rewritten")
    } == {
        "order_rows": 1,
        "customer_rows": 1,
        "accounts_rewritten": 1,
    }
    after = await check(admin_sales_client, day, day)
    assert (after["ok"], after["mismatches"], after["ledger"]["lifetime_mismatches"]) == (
        True,
        [],
        0,
    )
    figures = (await admin_sales_client.get(f"/api/v1/customers/{buyer.id}")).json()
    assert (figures["orders_count"], figures["lifetime_spend"]) == (1, "8.00")


@pytest.mark.mysql_only
async def test_rebuilding_while_orders_are_placed_leaves_order_rollups_equal_to_raw_rows(
    settings: Settings, committed_database: Database
) -> None:
    products = await make_products(settings, committed_database, 1000, 1000, price="2.00")
    buyers = [
        await make_account(committed_database, settings, balance=Decimal("500.00"))
        for _ in range(6)
    ]
    day = today(settings)
    span = {"start": (day - timedelta(days=1)).isoformat(), "end": day.isoformat()}
    async for sales in client_for("sales", settings, committed_database, as_=Role.admin):
        # Some orders before, so every rebuild has rows to delete and write again.
        for buyer in buyers:
            await place_and_pay(sales, bearer(buyer, settings), products[0], 1)

        async def rebuild_repeatedly(sales: AsyncClient = sales) -> list[int]:
            statuses = []
            for _ in range(6):
                response = await sales.post(f"{API}/rollups/rebuild", json=span)
                statuses.append(response.status_code)
            return statuses

        async def shop(index: int, sales: AsyncClient = sales) -> int:
            headers = bearer(buyers[index], settings)
            for n in range(8):
                await asyncio.sleep(0.003 * ((index + n) % 4))
                product = products[(index + n) % len(products)]
                await place_and_pay(sales, headers, product, 1 + n % 3, pay=n % 4 != 3)
            return 8

        rebuilds, *shopped = await asyncio.gather(
            rebuild_repeatedly(), *(shop(index) for index in range(len(buyers)))
        )
        assert rebuilds == [200] * 6
        assert shopped == [8] * len(buyers)
        report = await check(sales, day - timedelta(days=1), day)
    assert (report["ok"], report["mismatch_count"], report["ledger"]["lifetime_mismatches"]) == (
        True,
        0,
        0,
    )
    async with committed_database.session_factory() as session:
        zone = settings.timezone
        assert await order_mismatches(session, start=day, end=day, timezone=zone) == []
        assert await lifetime_mismatches(session, zone) == []
        placed = await session.scalar(select(func.sum(OrderDaily.orders_placed)))
        assert placed == await session.scalar(select(func.count()).select_from(CustomerOrder))
        assert placed == len(buyers) * 9
