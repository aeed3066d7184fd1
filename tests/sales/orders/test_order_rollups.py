"""The order rollups kept by the live flow: placing, paying, cancelling and refunding through
HTTP leave `order_daily`, `customer_daily` and the accounts' lifetime figures exactly what
the raw orders add up to, and the orders report shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pytest
from httpx import AsyncClient, Response

from common.config import Settings
from common.db import Database
from common.models.identity import UserAccount
from common.orders.rollups import lifetime_mismatches, order_mismatches
from tests.fixtures.factories import Catalog, bearer, make_account

ORDERS = "/api/v1/orders"


@dataclass
class Buyer:
    account: UserAccount
    headers: dict[str, str]


@dataclass
class Store:
    sales: AsyncClient
    admin: AsyncClient
    database: Database
    settings: Settings
    widget: int  # 10.00
    gadget: int  # 2.50

    async def place(self, buyer: Buyer, *items: tuple[int, int]) -> Response:
        body = {
            "items": [{"product_id": p, "quantity": q} for p, q in items],
            "shipping_address": "1 Main Street",
        }
        return await self.sales.post(ORDERS, json=body, headers=buyer.headers)

    async def act(self, buyer: Buyer, order_id: int, action: str) -> Response:
        body = {"reason": "test"} if action == "cancel" else None
        return await self.sales.post(
            f"{ORDERS}/{order_id}/{action}", json=body, headers=buyer.headers
        )

    async def buyer(self, balance: str) -> Buyer:
        account = await make_account(self.database, self.settings, balance=Decimal(balance))
        return Buyer(account, bearer(account, self.settings))

    async def today(self) -> dict[str, object]:
        response = await self.admin.get("/api/v1/analytics/orders")
        assert response.status_code == 200, response.text
        totals: dict[str, object] = response.json()["totals"]
        return totals

    async def assert_rollups_equal_raw(self) -> None:
        today = datetime.now(self.settings.timezone).date()
        async with self.database.session_factory() as session:
            zone = self.settings.timezone
            assert await order_mismatches(session, start=today, end=today, timezone=zone) == []
            assert await lifetime_mismatches(session, zone) == []


@pytest.fixture
async def store(
    catalog: Catalog,
    sales_client: AsyncClient,
    admin_sales_client: AsyncClient,
    isolated_database: Database,
    settings: Settings,
) -> Store:
    category = await catalog.category()
    return Store(
        sales=sales_client,
        admin=admin_sales_client,
        database=isolated_database,
        settings=settings,
        widget=await catalog.product(category_id=category, price="10.00", stock=50),
        gadget=await catalog.product(category_id=category, price="2.50", stock=50),
    )


async def test_placing_paying_cancelling_and_refunding_keep_the_rollups(store: Store) -> None:
    ann, bob = await store.buyer("100.00"), await store.buyer("50.00")
    paid = (await store.place(ann, (store.widget, 2), (store.gadget, 1))).json()  # 22.50, 3 units
    refunded = (await store.place(ann, (store.widget, 1))).json()  # 10.00
    cancelled = (await store.place(bob, (store.gadget, 4))).json()  # 10.00, never paid
    bobs = (await store.place(bob, (store.gadget, 2))).json()  # 5.00
    await store.place(bob, (store.widget, 1))  # left pending
    for buyer, order in ((ann, paid), (ann, refunded), (bob, bobs)):
        assert (await store.act(buyer, order["id"], "pay")).status_code == 200
    assert (await store.act(bob, cancelled["id"], "cancel")).json()["status"] == "cancelled"
    assert (await store.act(ann, refunded["id"], "cancel")).json()["status"] == "refunded"
    await store.assert_rollups_equal_raw()
    assert await store.today() == {
        "orders_placed": 5,
        "orders_paid": 3,
        "orders_cancelled": 1,
        "orders_refunded": 1,
        "paid_revenue": "37.50",
        "average_order_value": "12.50",
        "units_per_order": "2.00",  # (3 + 1 + 2) / 3
        "cancellation_rate": "0.2000",
    }


async def test_a_refused_order_or_payment_counts_nothing(store: Store) -> None:
    poor = await store.buyer("5.00")
    refused = await store.place(poor, (store.widget, 1))  # 10.00 > 5.00
    assert refused.status_code == 409
    order = (await store.place(poor, (store.gadget, 2))).json()  # 5.00
    assert (await store.act(poor, order["id"], "pay")).status_code == 200
    again = await store.act(poor, order["id"], "pay")
    assert again.status_code == 409
    await store.assert_rollups_equal_raw()
    totals = await store.today()
    assert (totals["orders_placed"], totals["orders_paid"], totals["paid_revenue"]) == (
        1,
        1,
        "5.00",
    )
