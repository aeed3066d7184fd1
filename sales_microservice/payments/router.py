"""`/api/v1/payments/callbacks/{provider}`: payment providers confirm or decline top-ups."""

from __future__ import annotations

from fastapi import APIRouter, Request

from common.identity.access import Public
from common.web import SettingsDep, UnitOfWorkDep, problem_responses
from sales_microservice.payments import service
from sales_microservice.payments.schemas import CALLBACK_BODY, ProviderName
from sales_microservice.wallet.schemas import TopUpRead

router = APIRouter(prefix="/payments", tags=["payments"])


@router.post(
    "/callbacks/{provider}",
    response_model=TopUpRead,
    summary="A provider's signed word on a top-up (Standard Webhooks): `top_up.succeeded` "
    "credits the wallet exactly once however often it is delivered, `top_up.failed` ends "
    "it; a bad or stale signature is 401 and changes nothing",
    responses=problem_responses(401, 404, 409, 413, 422),
    openapi_extra=CALLBACK_BODY,
)
async def payment_callback(
    provider: ProviderName,
    request: Request,
    _caller: Public,
    settings: SettingsDep,
    uow: UnitOfWorkDep,
) -> TopUpRead:
    # Public: the signature, not a bearer token, says who is calling.
    return await service.handle_callback(
        uow, settings, provider=provider, body=await request.body(), headers=request.headers
    )
