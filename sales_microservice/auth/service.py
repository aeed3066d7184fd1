"""Self-registration: a new customer account, made by `common.identity.accounts`."""

from __future__ import annotations

from common.config import Settings
from common.db.unit_of_work import UnitOfWork
from common.identity.accounts import register_account
from common.models.identity import Role, UserAccount
from sales_microservice.auth.schemas import Registration


async def register_customer(
    uow: UnitOfWork, request: Registration, *, address: str, settings: Settings
) -> UserAccount:
    """Whoever registers is a customer: the role is never the caller's choice."""
    return await register_account(
        uow, **request.model_dump(), role=Role.customer, address=address, settings=settings
    )
