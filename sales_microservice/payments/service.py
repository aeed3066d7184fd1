"""Payment callbacks: verify who sent one, then settle the top-up it names."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.unit_of_work import UnitOfWork
from common.wallet.top_ups import settle_top_up
from sales_microservice.payments.providers import callback_provider
from sales_microservice.wallet.schemas import TopUpRead
from sales_microservice.wallet.service import read_top_up


async def handle_callback(
    uow: UnitOfWork,
    settings: Settings,
    *,
    provider: str,
    body: bytes,
    headers: Mapping[str, str],
) -> TopUpRead:
    """Nothing is read or written before the signature verifies; then one retried unit of
    work settles the top-up (a repeated delivery finds it settled and changes nothing)."""
    event = callback_provider(settings, provider).verify(body, headers)

    async def settle(session: AsyncSession) -> TopUpRead:
        top_up = await settle_top_up(
            session,
            event.top_up_id,
            provider=provider,
            succeeded=event.succeeded,
            amount=event.amount,
            event_id=event.event_id,
        )
        return read_top_up(top_up)

    return await uow.run(settle)
