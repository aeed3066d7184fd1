"""Customer self-registration (sign-in itself is `/auth/token`, shared by both services)."""

from __future__ import annotations

from fastapi import APIRouter

from common.identity.accounts import create_account
from common.identity.schemas import AccountRead
from common.models.identity import Role
from common.web import SessionDep, SettingsDep, problem_responses
from sales_microservice.auth.schemas import Registration

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=201,
    response_model=AccountRead,
    summary="Create a customer account",
    responses=problem_responses(409, 422),
)
async def register(body: Registration, session: SessionDep, settings: SettingsDep) -> AccountRead:
    account = await create_account(
        session, **body.model_dump(), role=Role.customer, settings=settings
    )
    return AccountRead.model_validate(account)
