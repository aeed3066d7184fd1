"""Customer self-registration (sign-in itself is `/auth/token`, shared by both services)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from common.identity.access import Public
from common.identity.router import client_address
from common.identity.schemas import AccountRead
from common.web import SettingsDep, UnitOfWorkDep, problem_responses
from sales_microservice.auth import service
from sales_microservice.auth.schemas import Registration

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountRead,
    summary="Create a customer account (limited per client address: 429 beyond)",
    responses=problem_responses(409, 422, 429),
)
async def register(
    body: Registration,
    _public: Public,
    request: Request,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
) -> AccountRead:
    """Public. Creates a customer (never an admin) with an empty wallet; an e-mail that is
    already registered, in any case, is 409 `email_exists`; more than the allowed registrations
    from one client address in the window is 429. Sign in afterwards at `POST /auth/token`."""
    account = await service.register_customer(
        uow, body, address=client_address(request), settings=settings
    )
    return AccountRead.model_validate(account)
