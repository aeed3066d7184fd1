"""Wallet reads and the top-up / debit operations (money moves through `common.wallet.service`)."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.identity.accounts import get_account
from common.models.identity import WalletEntry, WalletEntryKind
from common.wallet.service import apply_wallet_change
from sales_microservice.wallet.schemas import Debit, TopUp, WalletEntryRead, WalletRead

LATEST_ENTRIES = 20


def entries_of(customer_id: int) -> Select[tuple[WalletEntry]]:
    return select(WalletEntry).where(WalletEntry.user_id == customer_id)


async def get_wallet(session: AsyncSession, *, customer_id: int) -> WalletRead:
    account = await get_account(session, customer_id)
    latest = await session.scalars(
        entries_of(customer_id).order_by(WalletEntry.id.desc()).limit(LATEST_ENTRIES)
    )
    return WalletRead(
        customer_id=account.id,
        balance=account.wallet_balance,
        entries=[WalletEntryRead.model_validate(entry) for entry in latest],
    )


async def top_up(
    session: AsyncSession, *, customer_id: int, request: TopUp, actor_id: int
) -> WalletEntryRead:
    entry = await apply_wallet_change(
        session,
        user_id=customer_id,
        amount=request.amount,
        kind=WalletEntryKind.top_up,
        actor_id=actor_id,
        note=request.note,
    )
    return WalletEntryRead.model_validate(entry)


async def debit(
    session: AsyncSession, *, customer_id: int, request: Debit, actor_id: int
) -> WalletEntryRead:
    entry = await apply_wallet_change(
        session,
        user_id=customer_id,
        amount=-request.amount,
        kind=WalletEntryKind.debit,
        actor_id=actor_id,
        note=request.reason,
    )
    return WalletEntryRead.model_validate(entry)
