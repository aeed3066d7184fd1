"""Two real replicas of each service on one database, requests handed out in turn as a load
balancer would: the oversell, wallet and order races still hold, because every guard lives in
the database and no replica keeps state of its own."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from common.config import Settings
from common.db import Database
from common.inventory.audit import reconcile
from common.models.catalog import Product
from common.models.identity import Role, UserAccount, WalletEntry
from common.models.sales import Sale
from common.wallet.service import reconcile_wallets
from tests.fixtures.clients import make_products
from tests.fixtures.databases import Backend
from tests.fixtures.factories import API, ORDERS, bearer, make_account, order_body
from tests.fixtures.ledgers import assert_ledgers_reconcile
from tests.fixtures.processes import PRODUCTS_APP, SALES_APP, ServiceProcess, round_robin, running
from tests.fixtures.races import outcomes, sell_and_correct

pytestmark = pytest.mark.mysql_only


class Replicas:
    def __init__(self, backend: Backend) -> None:
        self.sales = [ServiceProcess(backend, SALES_APP) for _ in range(2)]
        self.products = [ServiceProcess(backend, PRODUCTS_APP) for _ in range(2)]


@pytest.fixture(scope="module")
async def replicas(backend: Backend) -> AsyncIterator[Replicas]:
    # Started once for the module: each test cleans the database, the processes hold no state.
    replicas = Replicas(backend)
    async with running(*replicas.sales, *replicas.products):
        yield replicas


async def test_sales_and_corrections_on_two_replicas_each_never_oversell(
    replicas: Replicas, settings: Settings, committed_database: Database
) -> None:
    (product,) = await make_products(settings, committed_database, 30)
    headers = bearer(await make_account(committed_database, settings, role=Role.admin), settings)

    async with (
        round_robin(*replicas.sales) as sales,
        round_robin(*replicas.products) as products,
    ):
        responses = await sell_and_correct(sales, products, product, headers, 90)

    assert outcomes(responses) == {(201, ""): 30, (409, "insufficient_stock"): 60}
    async with committed_database.session_factory() as session:
        stock = await session.scalar(select(Product.stock_on_hand).where(Product.id == product))
        sold = await session.scalar(select(func.coalesce(func.sum(Sale.quantity), 0)))
    # Every unit left through exactly one of the two paths.
    sales_made = sum(1 for i, r in enumerate(responses) if i % 3 and r.status_code == 201)
    assert (stock, sold) == (0, sales_made)
    await assert_ledgers_reconcile(committed_database)


async def test_top_ups_and_debits_on_two_replicas_keep_the_wallet_books(
    replicas: Replicas, settings: Settings, committed_database: Database
) -> None:
    opening = Decimal("30.00")
    customer = await make_account(committed_database, settings, balance=opening)
    admin = bearer(await make_account(committed_database, settings, role=Role.admin), settings)
    base = f"{API}/customers/{customer.id}/wallet"
    chooser = random.Random(20261208)
    operations = [
        ("debit" if chooser.random() < 0.6 else "top_up", Decimal(chooser.randint(100, 2500)) / 100)
        for _ in range(80)
    ]

    async with round_robin(*replicas.sales) as sales:

        async def perform(kind: str, amount: Decimal) -> httpx.Response:
            if kind == "debit":
                body = {"amount": str(amount), "reason": "replica load"}
                return await sales.next().post(f"{base}/debits", json=body, headers=admin)
            return await sales.next().post(
                f"{base}/top-ups",
                json={"amount": str(amount), "note": "replica load"},
                headers=admin,
            )

        responses = await asyncio.gather(*(perform(kind, amount) for kind, amount in operations))

    outcomes = Counter(
        (kind, r.status_code, r.json().get("code", ""))
        for (kind, _), r in zip(operations, responses, strict=True)
    )
    assert set(outcomes) <= {
        ("debit", 201, ""),
        ("top_up", 201, ""),
        ("debit", 409, "insufficient_funds"),
    }
    assert outcomes[("debit", 409, "insufficient_funds")] > 0  # the guard was exercised
    moved = sum(
        (amount if kind == "top_up" else -amount)
        for (kind, amount), r in zip(operations, responses, strict=True)
        if r.status_code == 201
    )
    async with committed_database.session_factory() as session:
        final = await session.scalar(
            select(UserAccount.wallet_balance).where(UserAccount.id == customer.id)
        )
        chain = (
            await session.scalars(
                select(WalletEntry.balance_after)
                .where(WalletEntry.user_id == customer.id)
                .order_by(WalletEntry.id)
            )
        ).all()
        assert await reconcile_wallets(session) == []
    assert final == opening + moved >= 0
    assert len(chain) == 1 + sum(1 for r in responses if r.status_code == 201)
    assert chain[-1] == final
    assert min(chain) >= 0


async def test_customers_ordering_the_last_units_through_two_replicas(
    replicas: Replicas, settings: Settings, committed_database: Database
) -> None:
    (product,) = await make_products(settings, committed_database, 15)
    customers = [
        await make_account(committed_database, settings, balance=Decimal("4.00")) for _ in range(40)
    ]

    async with round_robin(*replicas.sales) as sales:

        async def buy(customer: UserAccount) -> tuple[int, str]:
            headers = bearer(customer, settings)
            # The order is placed on one replica and, in turn, usually paid on the other.
            placed = await sales.next().post(ORDERS, json=order_body(product), headers=headers)
            if placed.status_code != 201:
                return placed.status_code, placed.json()["code"]
            paid = await sales.next().post(f"{ORDERS}/{placed.json()['id']}/pay", headers=headers)
            return paid.status_code, paid.json().get("code", "")

        outcomes = await asyncio.gather(*(buy(customer) for customer in customers))

    assert Counter(outcomes) == {(200, ""): 15, (409, "insufficient_stock"): 25}
    async with committed_database.session_factory() as session:
        stock = await session.scalar(select(Product.stock_on_hand).where(Product.id == product))
        spent = await session.scalar(
            select(func.count())
            .select_from(UserAccount)
            .where(UserAccount.id.in_([c.id for c in customers]), UserAccount.wallet_balance == 0)
        )
        assert await reconcile(session) == []
    assert (stock, spent) == (0, 15)
    await assert_ledgers_reconcile(committed_database)
