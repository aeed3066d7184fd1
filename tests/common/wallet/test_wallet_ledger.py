"""The shared wallet function under concurrency, and the reconciliation that proves the ledger."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from decimal import Decimal

import pytest
from httpx import AsyncClient
from sqlalchemy import select, update

from common.config import Settings
from common.db import Database
from common.models.identity import Role, UserAccount, WalletEntry, WalletEntryKind
from common.wallet.service import (
    InsufficientFunds,
    WalletDiscrepancy,
    apply_wallet_change,
    reconcile_wallets,
)
from tests.fixtures.factories import bearer, make_account


async def test_reconciliation_reports_a_balance_that_drifted_from_its_ledger(
    isolated_database: Database, settings: Settings
) -> None:
    honest = await make_account(isolated_database, settings, balance=Decimal("5.00"))
    drifted = await make_account(isolated_database, settings, balance=Decimal("5.00"))
    async with isolated_database.session_factory() as session:
        await session.execute(
            update(UserAccount)
            .where(UserAccount.id == drifted.id)
            .values(wallet_balance=Decimal("6.00"))
        )
        found = await reconcile_wallets(session, user_ids=[honest.id, drifted.id])
    assert found == [
        WalletDiscrepancy(
            user_id=drifted.id, cached_balance=Decimal("6.00"), ledger_balance=Decimal("5.00")
        )
    ]


async def test_refused_change_appends_nothing(
    isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings, balance=Decimal("1.00"))
    async with isolated_database.session_factory() as session:
        with pytest.raises(InsufficientFunds):
            await apply_wallet_change(
                session,
                user_id=account.id,
                amount=Decimal("-1.01"),
                kind=WalletEntryKind.payment,
                actor_id=None,
                reference="order:test",
            )
        entries = (
            await session.scalars(select(WalletEntry).where(WalletEntry.user_id == account.id))
        ).all()
        assert [(e.kind, e.amount) for e in entries] == [("top_up", Decimal("1.00"))]
        assert await reconcile_wallets(session, user_ids=[account.id]) == []


@pytest.mark.mysql_only
async def test_hundred_concurrent_debits_and_top_ups_keep_the_books(
    committed_sales_client: AsyncClient, committed_database: Database, settings: Settings
) -> None:
    opening = Decimal("50.00")
    customer = await make_account(committed_database, settings, balance=opening)
    admin = await make_account(committed_database, settings, role=Role.admin)
    admin_headers = bearer(admin, settings)
    base = f"/api/v1/customers/{customer.id}/wallet"
    chooser = random.Random(20261121)
    operations: list[tuple[str, Decimal]] = [
        ("debit" if chooser.random() < 0.6 else "top_up", Decimal(chooser.randint(100, 2500)) / 100)
        for _ in range(100)
    ]

    async def perform(kind: str, amount: Decimal) -> tuple[str, Decimal, int, str]:
        if kind == "debit":
            response = await committed_sales_client.post(
                f"{base}/debits",
                json={"amount": str(amount), "reason": "load"},
                headers=admin_headers,
            )
        else:
            # Store credit: an admin's top-up credits at once (a customer's own is a payment).
            response = await committed_sales_client.post(
                f"{base}/top-ups",
                json={"amount": str(amount), "note": "load"},
                headers=admin_headers,
            )
        return kind, amount, response.status_code, response.json().get("code", "")

    results = await asyncio.gather(*(perform(kind, amount) for kind, amount in operations))

    outcomes = Counter((kind, status, code) for kind, _, status, code in results)
    allowed = {("debit", 201, ""), ("top_up", 201, ""), ("debit", 409, "insufficient_funds")}
    assert set(outcomes) <= allowed, outcomes
    assert outcomes[("debit", 409, "insufficient_funds")] > 0  # the guard was really exercised
    moved = sum(
        (amount if kind == "top_up" else -amount)
        for kind, amount, status, _ in results
        if status == 201
    )
    async with committed_database.session_factory() as session:
        final = await session.scalar(
            select(UserAccount.wallet_balance).where(UserAccount.id == customer.id)
        )
        entries = (
            await session.scalars(
                select(WalletEntry)
                .where(WalletEntry.user_id == customer.id)
                .order_by(WalletEntry.id)
            )
        ).all()
        assert await reconcile_wallets(session) == []
    assert final == opening + moved
    assert final >= 0
    successes = sum(1 for *_, status, _ in results if status == 201)
    assert len(entries) == 1 + successes
    # Each entry's balance_after continues the previous one: the row lock serialized them.
    running = Decimal("0.00")
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running >= 0
