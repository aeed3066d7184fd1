"""Wallet reads and the top-up / debit operations of the API.

Money moves only through `common.wallet.service` (shared with orders and refunds), which
guards the balance in SQL, and credits only through `common.wallet.top_ups` (every credit
names its payer); what stays here is what only this API needs: its reads, who may do which
kind of top-up, and which entry kind and note a debit records.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.pagination import keyset_paginate
from common.errors import Conflict, InvalidInput
from common.identity.access import Principal
from common.identity.accounts import get_account
from common.models.identity import TopUpStatus, WalletEntry, WalletEntryKind, WalletTopUp
from common.schemas import CursorPage, CursorParams, Page, PageParams
from common.wallet.service import AccountInactive, apply_wallet_change
from common.wallet.top_ups import (
    effective_top_up_status,
    give_store_credit,
    request_top_up,
    settle_top_up,
)
from sales_microservice.payments.providers import GATEWAY, MANUAL, provider_available
from sales_microservice.wallet.schemas import (
    Debit,
    TopUp,
    TopUpRead,
    WalletEntryRead,
    WalletRead,
)

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


class PaymentProviderUnavailable(Conflict):
    code = "payment_provider_unavailable"
    title = "Payment provider not configured"


def read_top_up(top_up: WalletTopUp) -> TopUpRead:
    return TopUpRead(
        id=top_up.id,
        customer_id=top_up.user_id,
        amount=top_up.amount,
        provider=top_up.provider,
        status=TopUpStatus(effective_top_up_status(top_up)),
        note=top_up.note,
        actor_id=top_up.actor_id,
        settled_by_id=top_up.settled_by_id,
        wallet_entry_id=top_up.wallet_entry_id,
        created_at=top_up.created_at,
        expires_at=top_up.expires_at,
        settled_at=top_up.settled_at,
    )


async def top_up(
    session: AsyncSession,
    *,
    customer_id: int,
    request: TopUp,
    actor: Principal,
    settings: Settings,
) -> TopUpRead:
    """An admin's top-up is store credit, credited now; a customer's own is a payment that
    waits, pending, for its provider (no balance changes here)."""
    if actor.is_admin:
        if request.provider is not None:
            raise InvalidInput(
                "Admins give store credit; `provider` is for a customer's own payment."
            )
        credit = await give_store_credit(
            session,
            user_id=customer_id,
            amount=request.amount,
            note=request.note,
            admin_id=actor.id,
        )
        return read_top_up(credit)
    provider = request.provider or (GATEWAY if provider_available(settings, GATEWAY) else MANUAL)
    if not provider_available(settings, provider):
        raise PaymentProviderUnavailable(
            f"The {provider} payment provider is not configured here; try `manual`."
        )
    account = await get_account(session, customer_id)
    if not account.is_active:
        raise AccountInactive("The account is deactivated; its wallet cannot change.")
    pending = await request_top_up(
        session,
        user_id=customer_id,
        amount=request.amount,
        provider=provider,
        note=request.note,
        actor_id=actor.id,
        ttl=timedelta(seconds=settings.payment_top_up_ttl_seconds),
    )
    return read_top_up(pending)


async def list_top_ups(
    session: AsyncSession, *, customer_id: int, page: PageParams
) -> Page[TopUpRead]:
    """A customer's top-ups, newest first; an unknown customer is 404, not an empty page."""
    await get_account(session, customer_id)
    condition = WalletTopUp.user_id == customer_id
    total = await session.scalar(select(func.count()).where(condition))
    rows = await session.scalars(
        select(WalletTopUp)
        .where(condition)
        .order_by(WalletTopUp.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return Page[TopUpRead](
        items=[read_top_up(row) for row in rows],
        total=total or 0,
        limit=page.limit,
        offset=page.offset,
    )


async def settle_manual_top_up(
    session: AsyncSession,
    *,
    customer_id: int,
    top_up_id: int,
    succeeded: bool,
    admin_id: int,
) -> TopUpRead:
    """An admin confirms (credits) or declines a `manual` top-up."""
    settled = await settle_top_up(
        session,
        top_up_id,
        provider=MANUAL,
        succeeded=succeeded,
        user_id=customer_id,
        settled_by_id=admin_id,
    )
    return read_top_up(settled)


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
