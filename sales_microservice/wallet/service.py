"""Wallet reads and the top-up / debit operations of the API.

Money moves only through `common.wallet.service` (shared with orders and refunds), which
guards the balance in SQL; what stays here is what only this API needs: its reads, and
which entry kind and note a top-up or a debit records.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.pagination import keyset_paginate
from common.identity.accounts import get_account
from common.models.identity import WalletEntry, WalletEntryKind
from common.schemas import CursorPage, CursorParams
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


async def list_entries(
    session: AsyncSession, *, customer_id: int, page: CursorParams
) -> CursorPage[WalletEntryRead]:
    """The ledger newest first; an unknown customer is 404, not an empty page."""
    await get_account(session, customer_id)
    return await keyset_paginate(
        session, entries_of(customer_id), page, id_column=WalletEntry.id, schema=WalletEntryRead
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
