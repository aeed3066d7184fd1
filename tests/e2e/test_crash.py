"""A real sales service process killed (SIGKILL) while it is taking payments: after a
restart no order is half-paid and every ledger reconciles."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from common.config import Settings
from common.db import Database
from common.models.identity import UserAccount
from common.models.orders import CustomerOrder
from tests.fixtures.clients import client_for, make_products
from tests.fixtures.databases import Backend
from tests.fixtures.factories import ORDERS, bearer, make_account, order_body
from tests.fixtures.ledgers import assert_ledgers_reconcile
from tests.fixtures.processes import SALES_APP, ServiceProcess

ORDER_COUNT = 30


@pytest.fixture
async def sales_process(backend: Backend) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess(backend, SALES_APP)
    yield process
    await process.kill()


@pytest.mark.mysql_only
async def test_sigkill_while_paying_leaves_no_half_paid_order(
    settings: Settings,
    committed_database: Database,
    sales_process: ServiceProcess,
) -> None:
    (product,) = await make_products(settings, committed_database, 100)
    customers = [
        await make_account(committed_database, settings, balance=Decimal("10.00"))
        for _ in range(ORDER_COUNT)
    ]
    orders: list[tuple[int, dict[str, str]]] = []
    async for client in client_for("sales", settings, committed_database, as_=None):
        for customer in customers:
            headers = bearer(customer, settings)
            placed = await client.post(ORDERS, json=order_body(product), headers=headers)
            orders.append((placed.json()["id"], headers))

    await sales_process.start()
    async with httpx.AsyncClient(base_url=sales_process.url, timeout=10) as client:
        payments = [
            asyncio.create_task(client.post(f"{ORDERS}/{order_id}/pay", headers=headers))
            for order_id, headers in orders
        ]
        # Kill once some payments have committed and others are still in flight.
        await asyncio.wait(payments, return_when=asyncio.FIRST_COMPLETED)
        await sales_process.kill()
        outcomes = await asyncio.gather(*payments, return_exceptions=True)
    answered = [o for o in outcomes if isinstance(o, httpx.Response)]
    assert 0 < len(answered) < ORDER_COUNT  # the kill really landed mid-flow

    # Straight after the crash: every order is either fully paid or untouched.
    await assert_ledgers_reconcile(committed_database)

    await sales_process.start()
    async with httpx.AsyncClient(base_url=sales_process.url, timeout=10) as client:
        retried = await asyncio.gather(
            *(client.post(f"{ORDERS}/{order_id}/pay", headers=h) for order_id, h in orders)
        )
    # Orders paid before the crash say so; the rest are paid now.
    assert {r.status_code for r in retried} <= {200, 409}
    assert all(r.json()["code"] == "order_not_pending" for r in retried if r.status_code == 409)
    async with committed_database.session_factory() as session:
        statuses = (await session.scalars(select(CustomerOrder.status))).all()
        balances = await session.scalar(
            select(func.sum(UserAccount.wallet_balance)).where(
                UserAccount.id.in_([c.id for c in customers])
            )
        )
    assert sorted(statuses) == ["paid"] * ORDER_COUNT
    assert balances == Decimal("10.00") * ORDER_COUNT - Decimal("4.00") * ORDER_COUNT
    await assert_ledgers_reconcile(committed_database)
