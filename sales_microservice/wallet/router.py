"""`/api/v1/customers/{customer_id}/wallet`: balance, ledger, top-ups and debits."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from common.identity.access import AdminUser, SelfOrAdmin
from common.identity.schemas import CustomerId
from common.schemas import CursorDep, CursorPage
from common.web import SessionDep, problem_responses
from common.web.idempotency import IdempotencyDep
from sales_microservice.wallet import service
from sales_microservice.wallet.schemas import Debit, TopUp, WalletEntryRead, WalletRead

router = APIRouter(prefix="/customers/{customer_id}/wallet", tags=["wallet"])


@router.get(
    "",
    response_model=WalletRead,
    summary="Balance and the latest entries",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_wallet(
    customer_id: CustomerId, _actor: SelfOrAdmin, session: SessionDep
) -> WalletRead:
    return await service.get_wallet(session, customer_id=customer_id)


@router.get(
    "/entries",
    response_model=CursorPage[WalletEntryRead],
    summary="The wallet ledger, newest first (keyset pagination)",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_wallet_entries(
    customer_id: CustomerId, _actor: SelfOrAdmin, session: SessionDep, page: CursorDep
) -> CursorPage[WalletEntryRead]:
    return await service.list_entries(session, customer_id=customer_id, page=page)


@router.post(
    "/top-ups",
    status_code=status.HTTP_201_CREATED,
    response_model=WalletEntryRead,
    summary="Add money (the customer themself, or an admin); accepts Idempotency-Key",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def top_up(
    customer_id: CustomerId, body: TopUp, actor: SelfOrAdmin, idempotency: IdempotencyDep
) -> JSONResponse:
    return await idempotency.run(
        scope="wallet.top_up",
        caller_id=actor.id,
        payload=body,
        work=lambda session: service.top_up(
            session, customer_id=customer_id, request=body, actor_id=actor.id
        ),
        status_code=status.HTTP_201_CREATED,
    )


@router.post(
    "/debits",
    status_code=status.HTTP_201_CREATED,
    response_model=WalletEntryRead,
    summary="Take money (admin); more than the balance is 409; accepts Idempotency-Key",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def debit(
    customer_id: CustomerId, body: Debit, admin: AdminUser, idempotency: IdempotencyDep
) -> JSONResponse:
    return await idempotency.run(
        scope="wallet.debit",
        caller_id=admin.id,
        payload=body,
        work=lambda session: service.debit(
            session, customer_id=customer_id, request=body, actor_id=admin.id
        ),
        status_code=status.HTTP_201_CREATED,
    )
