"""`seed-demo`: a deterministic demo store whose ledgers, wallets and rollups all add up."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.cli import main
from common.config import Settings, get_settings
from common.db import Database
from common.demo import CatalogNotEmpty, DemoOptions, DemoSummary, InvalidDemoOptions, seed_demo
from common.inventory import reconcile
from common.models import InventoryMovement, Product, Sale, SalesDaily, SalesDailyCategory
from common.models.identity import Role, UserAccount, WalletEntry
from common.wallet import reconcile_wallets
from sales_microservice.main import build_app as build_sales_app
from tests.conftest import Backend, serve_as_admin
from tests.sales.test_rollups import raw_totals, rollup_totals

# A window across the spring DST change, in a store that is not on UTC.
BERLIN = ZoneInfo("Europe/Berlin")
SMALL = DemoOptions(products=24, days=75, sales=3000, customers=12, seed=7, end=date(2025, 5, 1))


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
    return (*sales, *stock, movements, Decimal(wallets or 0).quantize(Decimal("0.01")))


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
    assert seeded.sales == SMALL.sales
    counts = dict(
        (await session.execute(select(Sale.kind, func.count()).group_by(Sale.kind))).tuples().all()
    )
    assert counts == {"sale": SMALL.sales, "refund": seeded.refunds}
    assert seeded.refunds > 0
    assert await session.scalar(select(func.count()).select_from(Product)) == SMALL.products
    customers = select(func.count()).where(UserAccount.role == Role.customer.value)
    assert await session.scalar(customers) == SMALL.customers
    days = await session.scalar(select(func.count(func.distinct(Sale.business_date))))
    assert days == SMALL.days
    assert seeded.skipped.keys() == {"orders", "reviews"}


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
    assert sold == SMALL.sales


async def test_rollups_equal_the_raw_sales(seeded: DemoSummary, session: AsyncSession) -> None:
    assert await rollup_totals(session) == await raw_totals(session)
    by_category = select(
        func.sum(SalesDailyCategory.revenue), func.sum(SalesDailyCategory.sales_count)
    )
    by_product = select(func.sum(SalesDaily.revenue), func.sum(SalesDaily.sales_count))
    assert (await session.execute(by_category)).one() == (await session.execute(by_product)).one()
    assert (await session.execute(by_product)).one() == (seeded.revenue, SMALL.sales)


async def test_wallet_ledgers_reconcile(seeded: DemoSummary, session: AsyncSession) -> None:
    assert seeded.wallet_entries > 0
    assert await reconcile_wallets(session) == []
    negative = select(func.count()).where(WalletEntry.balance_after < 0)
    assert await session.scalar(negative) == 0


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


async def test_analytics_answer_over_the_seeded_store(
    settings: Settings, isolated_database: Database
) -> None:
    app = build_sales_app(settings=settings, database=isolated_database)
    async for client in serve_as_admin(app, settings, isolated_database):
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


@pytest.fixture
def configured(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", backend.url)
    # Cheap Argon2 for the one shared customer password hash.
    monkeypatch.setenv("PASSWORD_HASH_MEMORY_COST_KIB", "8")
    monkeypatch.setenv("PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("PASSWORD_HASH_PARALLELISM", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


DEMO_ARGS = ["seed-demo", "--products", "12", "--days", "30", "--sales", "400", "--quiet"]


@pytest.mark.usefixtures("configured")
async def test_cli_seeds_an_empty_database_and_refuses_a_second_time(
    committed_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(main, [*DEMO_ARGS, "--customers", "3"]) == 0
    assert "12 products, 400 sales" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["check-ledger"]) == 0
    capsys.readouterr()

    assert await asyncio.to_thread(main, DEMO_ARGS) == 1
    assert "already has rows in `category`" in capsys.readouterr().err
    assert await asyncio.to_thread(main, [*DEMO_ARGS, "--if-empty"]) == 0
    assert "demo data skipped" in capsys.readouterr().out
    async with committed_database.session_factory() as session:
        # The refused runs wrote nothing.
        assert await session.scalar(select(func.count()).where(Sale.kind == "sale")) == 400


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
