"""`seed-demo`: a deterministic demo store whose ledgers, wallets and rollups all add up."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from common.config import Settings
from common.db import Database
from common.inventory.audit import reconcile
from common.models import InventoryMovement, Product, Sale, SalesDaily, SalesDailyCategory
from common.models.identity import Role, UserAccount, WalletEntry, WalletTopUp
from common.models.inventory import StockReservation, StockReservationItem
from common.models.orders import CustomerOrder, OrderItem, OrderStatus, OrderStatusChange
from common.models.review import Review, ReviewStatus
from common.ops.cli import main
from common.ops.demo.generator import seed_demo
from common.ops.demo.options import CatalogNotEmpty, DemoOptions, DemoSummary, InvalidDemoOptions
from common.wallet.service import reconcile_wallets
from common.wallet.top_ups import reconcile_top_ups
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.clients import serve_as
from tests.fixtures.ledgers import raw_totals, rollup_totals

# A window across the spring DST change, in a store that is not on UTC.
BERLIN = ZoneInfo("Europe/Berlin")
SMALL = DemoOptions(
    products=24, days=75, sales=3000, customers=12, orders=300, seed=7, end=date(2025, 5, 1)
)


async def seed(session: AsyncSession, options: DemoOptions = SMALL) -> DemoSummary:
    summary = await seed_demo(session, options, timezone=BERLIN, password_hash="not-a-real-hash")
    await session.commit()
    return summary


async def fingerprint(session: AsyncSession) -> tuple[Any, ...]:
    """Totals that change if any generated row changes."""
    sales = (
        await session.execute(
            select(
                func.count(),
                func.sum(Sale.quantity),
                func.sum(Sale.revenue),
                func.sum(Sale.cost),
                func.sum(Sale.product_id * Sale.quantity),
                func.min(Sale.sold_at),
                func.max(Sale.sold_at),
            )
        )
    ).one()
    stock = (
        await session.execute(
            select(func.sum(Product.stock_on_hand), func.sum(Product.price), func.max(Product.name))
        )
    ).one()
    movements = await session.scalar(select(func.sum(InventoryMovement.quantity_after)))
    wallets = await session.scalar(select(func.sum(WalletEntry.amount)))
    orders = (
        await session.execute(
            select(
                func.count(),
                func.sum(CustomerOrder.total),
                func.sum(CustomerOrder.customer_id),
                func.max(CustomerOrder.created_at),
            )
        )
    ).one()
    statuses = (
        await session.execute(
            select(CustomerOrder.status, func.count())
            .group_by(CustomerOrder.status)
            .order_by(CustomerOrder.status)
        )
    ).all()
    reviews = (
        await session.execute(
            select(
                func.count(), func.sum(Review.rating * Review.product_id), func.max(Review.status)
            )
        )
    ).one()
    return (
        *sales,
        *stock,
        movements,
        Decimal(wallets or 0).quantize(Decimal("0.01")),
        *orders,
        *[tuple(row) for row in statuses],
        *reviews,
    )


@pytest.fixture
async def seeded(isolated_database: Database) -> AsyncIterator[DemoSummary]:
    async with isolated_database.session_factory() as session:
        yield await seed(session)


async def test_same_seed_gives_the_same_store(isolated_database: Database) -> None:
    async with isolated_database.session_factory() as session:
        await seed_demo(session, SMALL, timezone=BERLIN, password_hash="x")
        first = await fingerprint(session)
        await session.rollback()
        await seed_demo(session, SMALL, timezone=BERLIN, password_hash="x")
        assert await fingerprint(session) == first
        await session.rollback()
        other = DemoOptions(**{**SMALL.__dict__, "seed": 8})
        await seed_demo(session, other, timezone=BERLIN, password_hash="x")
        assert await fingerprint(session) != first


async def test_seeded_store_has_the_requested_shape(
    seeded: DemoSummary, session: AsyncSession
) -> None:
    assert (seeded.start, seeded.end) == (date(2025, 2, 16), date(2025, 5, 1))
    order_sales = select(func.count()).where(Sale.kind == "sale", Sale.order_id.is_not(None))
    assert seeded.sales == SMALL.sales + await session.scalar(order_sales)
    counts = dict(
        (await session.execute(select(Sale.kind, func.count()).group_by(Sale.kind))).tuples().all()
    )
    assert counts == {"sale": seeded.sales, "refund": seeded.refunds}
    assert seeded.refunds > 0
    assert await session.scalar(select(func.count()).select_from(Product)) == SMALL.products
    customers = select(func.count()).where(UserAccount.role == Role.customer.value)
    assert await session.scalar(customers) == SMALL.customers
    days = await session.scalar(select(func.count(func.distinct(Sale.business_date))))
    assert days == SMALL.days
    assert set(seeded.orders) == {status.value for status in OrderStatus}
    assert set(seeded.reviews) == {status.value for status in ReviewStatus}
    stored = select(CustomerOrder.status, func.count()).group_by(CustomerOrder.status)
    assert dict((await session.execute(stored)).tuples().all()) == seeded.orders
    assert seeded.orders.total() == SMALL.orders


async def test_stock_ledger_reconciles_and_runs_forward_in_time(
    seeded: DemoSummary, session: AsyncSession
) -> None:
    assert await reconcile(session) == []
    assert seeded.stock_on_hand == await session.scalar(select(func.sum(Product.stock_on_hand)))
    movements = (
        await session.execute(
            select(InventoryMovement.product_id, InventoryMovement.created_at).order_by(
                InventoryMovement.product_id, InventoryMovement.id
            )
        )
    ).all()
    # As-of reads rely on it: a product's ledger never steps back in time.
    for before, after in itertools.pairwise(movements):
        if before.product_id == after.product_id:
            assert before.created_at <= after.created_at
    sold = await session.scalar(select(func.count()).where(InventoryMovement.kind == "sale"))
    assert sold == seeded.sales


async def test_rollups_equal_the_raw_sales(seeded: DemoSummary, session: AsyncSession) -> None:
    assert await rollup_totals(session) == await raw_totals(session)
    by_category = select(
        func.sum(SalesDailyCategory.revenue), func.sum(SalesDailyCategory.sales_count)
    )
    by_product = select(func.sum(SalesDaily.revenue), func.sum(SalesDaily.sales_count))
    assert (await session.execute(by_category)).one() == (await session.execute(by_product)).one()
    assert (await session.execute(by_product)).one() == (seeded.revenue, seeded.sales)


async def test_wallet_ledgers_reconcile(seeded: DemoSummary, session: AsyncSession) -> None:
    assert seeded.wallet_entries > 0
    assert await reconcile_wallets(session) == []
    negative = select(func.count()).where(WalletEntry.balance_after < 0)
    assert await session.scalar(negative) == 0


async def test_every_demo_credit_is_a_paid_top_up(
    seeded: DemoSummary, session: AsyncSession
) -> None:
    assert await reconcile_top_ups(session) == []
    unpaid = select(func.count()).where(
        WalletEntry.kind == "top_up", WalletEntry.reference.is_(None)
    )
    assert await session.scalar(unpaid) == 0
    statuses = dict(
        (
            await session.execute(
                select(WalletTopUp.status, func.count()).group_by(WalletTopUp.status)
            )
        ).all()
    )
    assert set(statuses) == {"succeeded", "failed"}
    providers = set((await session.scalars(select(WalletTopUp.provider).distinct())).all())
    assert providers == {"gateway", "manual"}


async def test_refunds_never_exceed_their_sale(seeded: DemoSummary, session: AsyncSession) -> None:
    refunded = (
        select(Sale.refund_of_id, func.sum(-Sale.quantity).label("units"))
        .where(Sale.refund_of_id.is_not(None))
        .group_by(Sale.refund_of_id)
        .subquery()
    )
    excess = (
        select(func.count())
        .select_from(refunded.join(Sale, Sale.id == refunded.c.refund_of_id))
        .where(refunded.c.units > Sale.quantity)
    )
    assert await session.scalar(excess) == 0


async def test_orders_match_their_payments_sales_and_reservations(
    seeded: DemoSummary, session: AsyncSession
) -> None:
    orders = {
        order.id: order
        for order in (
            await session.scalars(select(CustomerOrder).options(selectinload(CustomerOrder.items)))
        ).all()
    }
    charged = {"paid", "shipped", "delivered", "refunded"}
    entries = (
        await session.execute(
            select(
                WalletEntry.reference, WalletEntry.kind, WalletEntry.amount, WalletEntry.user_id
            ).where(WalletEntry.reference.like("order:%"))
        )
    ).all()
    payments = {(r, a, u) for r, k, a, u in entries if k == "payment"}
    refunds = {(r, a, u) for r, k, a, u in entries if k == "refund"}
    assert len(payments) + len(refunds) == len(entries)
    assert payments == {
        (f"order:{o.id}", -o.total, o.customer_id) for o in orders.values() if o.status in charged
    }
    assert refunds == {
        (f"order:{o.id}", o.total, o.customer_id) for o in orders.values() if o.status == "refunded"
    }
    # Each charged order sold exactly its lines at their snapshot prices; refunded ones gave
    # every unit back.
    lines = (
        await session.execute(
            select(Sale.order_id, Sale.kind, Sale.product_id, Sale.quantity, Sale.unit_price).where(
                Sale.order_id.is_not(None)
            )
        )
    ).all()
    sold = sorted((o, p, q, u) for o, k, p, q, u in lines if k == "sale")
    returned = sorted((o, p, -q, u) for o, k, p, q, u in lines if k == "refund")
    assert sold == sorted(
        (o.id, i.product_id, i.quantity, i.unit_price)
        for o in orders.values()
        if o.status in charged
        for i in o.items
    )
    assert returned == [line for line in sold if orders[line[0]].status == "refunded"]
    for order in orders.values():
        assert order.total == sum(item.line_total for item in order.items)
        assert (order.paid_at is not None) == (order.status in charged)
    reservations = dict(
        (
            await session.execute(
                select(CustomerOrder.status, StockReservation.status).join(
                    StockReservation, StockReservation.id == CustomerOrder.reservation_id
                )
            )
        )
        .tuples()
        .all()
    )
    assert reservations == {
        "pending": "active",
        "cancelled": "released",
        "expired": "expired",
        **dict.fromkeys(charged, "confirmed"),
    }
    # What pending orders hold is on the shelf.
    held = (
        select(StockReservationItem.product_id, func.sum(StockReservationItem.quantity).label("q"))
        .where(StockReservationItem.status == "active")
        .group_by(StockReservationItem.product_id)
        .subquery()
    )
    over = (
        select(func.count())
        .select_from(held.join(Product, Product.id == held.c.product_id))
        .where(held.c.q > Product.stock_on_hand)
    )
    assert await session.scalar(over) == 0


async def test_status_histories_walk_the_order_flow(
    seeded: DemoSummary, session: AsyncSession
) -> None:
    rows = (
        await session.execute(
            select(
                OrderStatusChange.order_id,
                OrderStatusChange.from_status,
                OrderStatusChange.to_status,
                OrderStatusChange.created_at,
            ).order_by(OrderStatusChange.order_id, OrderStatusChange.id)
        )
    ).all()
    paths: dict[int, list[str]] = {}
    for order_id, from_status, to_status, _ in rows:
        path = paths.setdefault(order_id, [])
        assert from_status == (path[-1] if path else None)
        path.append(to_status)
    assert {tuple(path) for path in paths.values()} == {
        ("pending",),
        ("pending", "cancelled"),
        ("pending", "expired"),
        ("pending", "paid"),
        ("pending", "paid", "refunded"),
        ("pending", "paid", "shipped"),
        ("pending", "paid", "shipped", "delivered"),
    }
    for before, after in itertools.pairwise(rows):
        if before.order_id == after.order_id:
            assert before.created_at <= after.created_at
    current = dict(
        (await session.execute(select(CustomerOrder.id, CustomerOrder.status))).tuples().all()
    )
    assert {order_id: path[-1] for order_id, path in paths.items()} == current


async def test_reviews_come_from_customers_who_received_the_product(
    seeded: DemoSummary, session: AsyncSession
) -> None:
    reviews = (
        await session.execute(
            select(Review.user_id, Review.product_id, Review.rating, Review.status)
        )
    ).all()
    assert len(reviews) == seeded.reviews.total() > 0
    assert {rating for *_, rating, _ in reviews} == {1, 2, 3, 4, 5}
    delivered = set(
        (
            await session.execute(
                select(CustomerOrder.customer_id, OrderItem.product_id)
                .join(OrderItem, OrderItem.order_id == CustomerOrder.id)
                .where(CustomerOrder.status == "delivered")
            )
        )
        .tuples()
        .all()
    )
    assert {(user, product) for user, product, *_ in reviews} <= delivered
    unmoderated = select(func.count()).where(
        (Review.status == "pending") != Review.moderated_at.is_(None)
    )
    assert await session.scalar(unmoderated) == 0


async def test_analytics_answer_over_the_seeded_store(
    settings: Settings, isolated_database: Database
) -> None:
    app = build_sales_app(settings=settings, database=isolated_database)
    async for client in serve_as(app, settings, isolated_database, Role.admin):
        async with isolated_database.session_factory() as session:
            summary = await seed(session)
        await check_reports(client, summary)


async def check_reports(client: AsyncClient, summary: DemoSummary) -> None:
    period = {"start": summary.start.isoformat(), "end": summary.end.isoformat()}
    revenue = await client.get("/api/v1/analytics/revenue", params={**period, "interval": "week"})
    assert revenue.status_code == 200, revenue.text
    totals = revenue.json()["totals"]
    assert Decimal(totals["revenue"]) == summary.revenue
    assert Decimal(totals["refunds"]) == summary.refunded
    assert totals["sales_count"] == summary.sales
    by_category = await client.get(
        "/api/v1/analytics/revenue/by-category",
        params={**period, "compare": "previous_period"},
    )
    assert by_category.status_code == 200, by_category.text
    items = by_category.json()["items"]
    assert len(items) == summary.categories
    assert sum(Decimal(item["revenue"]) for item in items) == summary.revenue
    cards = await client.get("/api/v1/analytics/summary", params=period)
    assert cards.status_code == 200, cards.text
    assert cards.json()["best_product"] is not None


# --- the command ---------------------------------------------------------------------------


DEMO_ARGS = [
    "seed-demo", "--products", "12", "--days", "30", "--sales", "400", "--orders", "40", "--quiet",
]  # fmt: skip


@pytest.mark.usefixtures("configured")
async def test_cli_seeds_an_empty_database_and_refuses_a_second_time(
    committed_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(main, [*DEMO_ARGS, "--customers", "3"]) == 0
    output = capsys.readouterr().out
    assert "12 products, " in output
    assert " 40 orders (" in output
    assert await asyncio.to_thread(main, ["check-ledger"]) == 0
    capsys.readouterr()

    assert await asyncio.to_thread(main, DEMO_ARGS) == 1
    assert "already has rows in `category`" in capsys.readouterr().err
    assert await asyncio.to_thread(main, [*DEMO_ARGS, "--if-empty"]) == 0
    assert "demo data skipped" in capsys.readouterr().out
    async with committed_database.session_factory() as session:
        # The refused runs wrote nothing.
        counter_sales = select(func.count()).where(Sale.kind == "sale", Sale.order_id.is_(None))
        assert await session.scalar(counter_sales) == 400
        assert await session.scalar(select(func.count()).select_from(CustomerOrder)) == 40


async def test_seeding_a_store_with_products_is_refused(
    seeded: DemoSummary, session: AsyncSession
) -> None:
    with pytest.raises(CatalogNotEmpty):
        await seed_demo(session, SMALL, timezone=BERLIN, password_hash="x")


async def test_history_may_not_reach_today(session: AsyncSession) -> None:
    with pytest.raises(InvalidDemoOptions, match="must end before today"):
        await seed_demo(
            session, DemoOptions(end=date(2999, 1, 1)), timezone=BERLIN, password_hash="x"
        )
