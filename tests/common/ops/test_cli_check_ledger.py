"""`python -m common.ops check-ledger` against the configured database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from common.config import Settings
from common.db import Database
from common.inventory.ledger import record_movement
from common.models import MovementKind, Product, UserAccount
from common.ops.cli import main
from common.wallet.top_ups import request_top_up
from tests.fixtures.factories import make_account, make_product


async def seed(database: Database) -> int:
    async with database.session_factory() as session:
        product_id = await make_product(session, sku="CLI-1")
        await record_movement(session, product_id=product_id, kind=MovementKind.RESTOCK, delta=4)
        await session.commit()
    return product_id


@pytest.mark.usefixtures("configured")
async def test_check_ledger_exits_0_when_reconciled(
    committed_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(committed_database)
    assert await asyncio.to_thread(main, ["check-ledger"]) == 0
    assert "ledger reconciled" in capsys.readouterr().out


@pytest.mark.usefixtures("configured")
async def test_check_ledger_exits_1_and_lists_drifted_products(
    committed_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    product_id = await seed(committed_database)
    async with committed_database.session_factory() as session:
        await session.execute(
            update(Product).where(Product.id == product_id).values(stock_on_hand=9)
        )
        await session.commit()
    assert await asyncio.to_thread(main, ["check-ledger"]) == 1
    out = capsys.readouterr().out
    assert f"product {product_id} (CLI-1): cached_level_mismatch" in out
    assert "stock_on_hand is 9, the ledger sums to 4" in out


@pytest.mark.usefixtures("configured")
async def test_check_ledger_lists_rating_counters_that_drifted(
    committed_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    product_id = await seed(committed_database)
    async with committed_database.session_factory() as session:
        await session.execute(
            update(Product).where(Product.id == product_id).values(rating_count=2, rating_total=9)
        )
        await session.commit()
    assert await asyncio.to_thread(main, ["check-ledger"]) == 1
    out = capsys.readouterr().out
    assert f"product {product_id} (CLI-1): rating_mismatch" in out
    assert "counters say 2 approved reviews totalling 9, the reviews 0 totalling 0" in out


@pytest.mark.usefixtures("configured")
async def test_check_ledger_lists_wallets_and_top_ups_that_drifted(
    committed_database: Database, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = await make_account(committed_database, settings, balance=Decimal("5.00"))
    async with committed_database.session_factory() as session:
        # A balance nobody booked, and a top-up marked paid without its credit.
        await session.execute(
            update(UserAccount)
            .where(UserAccount.id == customer.id)
            .values(wallet_balance=Decimal("50.00"))
        )
        top_up = await request_top_up(
            session,
            user_id=customer.id,
            amount=Decimal("45.00"),
            provider="gateway",
            note=None,
            actor_id=customer.id,
            ttl=timedelta(hours=1),
        )
        top_up.status = "succeeded"
        await session.commit()
    assert await asyncio.to_thread(main, ["check-ledger"]) == 1
    out = capsys.readouterr().out
    assert f"account {customer.id}: wallet_mismatch: the balance is 50.00" in out
    assert "the entries sum to 5.00" in out
    assert f"top_up:{top_up.id}: top_up_mismatch" in out
