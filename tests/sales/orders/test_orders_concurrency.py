"""Orders on real connections and commits: the expiry sweeper, races for the last units, and
multi-line orders locking the same products from opposite ends."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from common.config import Settings
from common.db import Database
from common.models.identity import UserAccount
from common.models.inventory import StockReservation, StockReservationItem
from common.models.orders import CustomerOrder, OrderStatusChange
from common.models.sales import Sale
from common.ops.cli import main
from tests.fixtures.clients import client_for, make_products
from tests.fixtures.factories import ORDERS, bearer, make_account, order_body
from tests.fixtures.ledgers import assert_ledgers_reconcile


async def test_the_background_sweeper_expires_orders_and_reservations(
    settings: Settings, committed_database: Database
) -> None:
    (product,) = await make_products(settings, committed_database, 5)
    customer = await make_account(committed_database, settings, balance=Decimal("20.00"))
    quick = settings.model_copy(update={"order_reservation_ttl": 1, "sweep_interval_seconds": 0.2})
    async for client in client_for("sales", quick, committed_database, as_=None):
        placed = await client.post(
            ORDERS, json=order_body(product), headers=bearer(customer, settings)
        )
        order_id = placed.json()["id"]
        for _ in range(40):
            await asyncio.sleep(0.1)
            async with committed_database.session_factory() as session:
                stored = await session.scalar(
                    select(CustomerOrder.status).where(CustomerOrder.id == order_id)
                )
            if stored == "expired":
                break
        assert stored == "expired"
    async with committed_database.session_factory() as session:
        history = (
            await session.execute(
                select(
                    OrderStatusChange.from_status,
                    OrderStatusChange.to_status,
                    OrderStatusChange.actor_id,
                )
                .where(OrderStatusChange.order_id == order_id)
                .order_by(OrderStatusChange.id)
            )
        ).all()
        statuses = set((await session.scalars(select(StockReservation.status))).all())
        item_statuses = set((await session.scalars(select(StockReservationItem.status))).all())
    assert [tuple(row) for row in history] == [
        (None, "pending", customer.id),
        ("pending", "expired", None),
    ]
    assert statuses == item_statuses == {"expired"}


@pytest.mark.usefixtures("configured")
async def test_cli_sweep_expires_everything_in_batches(
    settings: Settings, committed_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    (product,) = await make_products(settings, committed_database, 5)
    customer = await make_account(committed_database, settings, balance=Decimal("20.00"))
    quick = settings.model_copy(update={"order_reservation_ttl": 1})
    async for client in client_for("sales", quick, committed_database, as_=None):
        for _ in range(3):
            placed = await client.post(
                ORDERS, json=order_body(product), headers=bearer(customer, settings)
            )
            assert placed.status_code == 201
    await asyncio.sleep(1.2)
    assert await asyncio.to_thread(main, ["sweep", "--batch-size", "2"]) == 0
    assert capsys.readouterr().out.startswith("expired 3 order(s) and 3 reservation(s); ")
    assert await asyncio.to_thread(main, ["sweep"]) == 0
    assert capsys.readouterr().out.startswith("expired 0 order(s) and 0 reservation(s); ")


@pytest.mark.mysql_only
async def test_sixty_customers_race_for_twenty_five_units(
    settings: Settings, committed_database: Database
) -> None:
    (product,) = await make_products(settings, committed_database, 25)
    customers = [
        await make_account(committed_database, settings, balance=Decimal("4.00")) for _ in range(60)
    ]

    async def buy(client: AsyncClient, customer: UserAccount) -> tuple[int, int | None]:
        headers = bearer(customer, settings)
        placed = await client.post(ORDERS, json=order_body(product), headers=headers)
        if placed.status_code != 201:
            assert placed.json()["code"] == "insufficient_stock", placed.text
            return placed.status_code, None
        paid = await client.post(f"{ORDERS}/{placed.json()['id']}/pay", headers=headers)
        return paid.status_code, placed.json()["id"]

    async for client in client_for("sales", settings, committed_database, as_=None):
        outcomes = await asyncio.gather(*(buy(client, customer) for customer in customers))
    assert sorted(status for status, _ in outcomes) == [200] * 25 + [409] * 35

    async with committed_database.session_factory() as session:
        stock = await session.scalar(
            select(func.sum(StockReservationItem.quantity)).where(
                StockReservationItem.status == "active"
            )
        )
        balances = dict(
            (
                await session.execute(
                    select(UserAccount.id, UserAccount.wallet_balance).where(
                        UserAccount.id.in_([c.id for c in customers])
                    )
                )
            ).all()
        )
        sold = await session.scalar(
            select(func.sum(Sale.quantity)).where(Sale.product_id == product)
        )
    assert stock is None  # every reservation was confirmed; nothing is left holding
    assert sold == 25
    winners = {customers[i].id for i, (status, _) in enumerate(outcomes) if status == 200}
    assert {cid for cid, balance in balances.items() if balance == 0} == winners
    assert all(balances[c.id] == Decimal("4.00") for c in customers if c.id not in winners)
    await assert_ledgers_reconcile(committed_database)


@pytest.mark.mysql_only
async def test_multi_line_orders_in_opposite_order_all_succeed(
    settings: Settings, committed_database: Database
) -> None:
    first, second = await make_products(settings, committed_database, 50, 50)
    customers = [
        await make_account(committed_database, settings, balance=Decimal("8.00")) for _ in range(30)
    ]

    async def buy(client: AsyncClient, index: int) -> tuple[int, int]:
        headers = bearer(customers[index], settings)
        lines = (first, second) if index % 2 else (second, first)
        placed = await client.post(ORDERS, json=order_body(*lines), headers=headers)
        paid = await client.post(f"{ORDERS}/{placed.json()['id']}/pay", headers=headers)
        return placed.status_code, paid.status_code

    async for client in client_for("sales", settings, committed_database, as_=None):
        outcomes = await asyncio.gather(*(buy(client, i) for i in range(30)))
    assert outcomes == [(201, 200)] * 30
    async with committed_database.session_factory() as session:
        levels = (
            await session.execute(
                select(func.sum(Sale.quantity)).where(Sale.product_id.in_([first, second]))
            )
        ).scalar()
    assert levels == 60
    await assert_ledgers_reconcile(committed_database)


@pytest.mark.mysql_only
async def test_concurrent_placements_by_one_customer_never_pass_the_pending_cap(
    settings: Settings, committed_database: Database
) -> None:
    # Twelve placements at once by one customer who can pay for all of them: the account's
    # row lock queues them, so the count of pending orders is never raced past the cap.
    (product,) = await make_products(settings, committed_database, 100)
    customer = await make_account(committed_database, settings, balance=Decimal("100.00"))
    cap = settings.order_max_pending_per_customer
    async for client in client_for("sales", settings, committed_database, as_=customer):
        responses = await asyncio.gather(
            *(client.post(ORDERS, json=order_body(product)) for _ in range(12))
        )
    outcomes = sorted((r.status_code, r.json().get("code", "")) for r in responses)
    assert outcomes == [(201, "")] * cap + [(409, "too_many_pending_orders")] * (12 - cap)
    async with committed_database.session_factory() as session:
        pending = await session.scalar(
            select(func.count())
            .select_from(CustomerOrder)
            .where(CustomerOrder.customer_id == customer.id)
        )
        held = await session.scalar(
            select(func.coalesce(func.sum(StockReservationItem.quantity), 0))
        )
    assert (pending, held) == (cap, cap)
    await assert_ledgers_reconcile(committed_database)
