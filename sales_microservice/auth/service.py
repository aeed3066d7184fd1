"""Self-registration: a new customer account, made by `common.identity.accounts`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.identity.accounts import create_account
from common.models.identity import Role, UserAccount
from sales_microservice.auth.schemas import Registration


async def register_customer(
    session: AsyncSession, request: Registration, *, settings: Settings
) -> UserAccount:
    """Whoever registers is a customer: the role is never the caller's choice."""
    return await create_account(
        session, **request.model_dump(), role=Role.customer, settings=settings
    )
