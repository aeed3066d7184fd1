"""`/api/v1/customers/{customer_id}/wallet`: balance, ledger, top-ups and debits."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from common.identity.access import AdminUser, SelfOrAdmin
from common.identity.schemas import CustomerId
from common.schemas import CursorDep, CursorPage, NoBody, Page, PageDep
from common.web import SessionDep, SettingsDep, problem_responses
from common.web.idempotency import IdempotencyDep
from sales_microservice.wallet import service
from sales_microservice.wallet.schemas import (
    Debit,
    TopUp,
    TopUpId,
    TopUpRead,
    WalletEntryRead,
    WalletRead,
)

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
    response_model=TopUpRead,
    summary="A customer's own top-up: a pending payment (no balance change until its "
    "provider confirms it). An admin's: store credit, credited at once, `note` required. "
    "Accepts Idempotency-Key",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def top_up(
    customer_id: CustomerId,
    body: TopUp,
    actor: SelfOrAdmin,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    return await idempotency.run(
        scope="wallet.top_up",
        caller_id=actor.id,
        payload=body,
        work=lambda session: service.top_up(
            session, customer_id=customer_id, request=body, actor=actor, settings=settings
        ),
        status_code=status.HTTP_201_CREATED,
    )


@router.get(
    "/top-ups",
    response_model=Page[TopUpRead],
    summary="Top-ups and store credits, newest first, with their payment status",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_top_ups(
    customer_id: CustomerId, _actor: SelfOrAdmin, session: SessionDep, page: PageDep
) -> Page[TopUpRead]:
    return await service.list_top_ups(session, customer_id=customer_id, page=page)


@router.post(
    "/top-ups/{top_up_id}/confirm",
    response_model=TopUpRead,
    summary="Confirm a `manual` top-up's payment (admin): credits the wallet, once; "
    "accepts Idempotency-Key",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def confirm_top_up(
    customer_id: CustomerId, top_up_id: TopUpId, admin: AdminUser, idempotency: IdempotencyDep
) -> JSONResponse:
    return await idempotency.run(
        scope="wallet.top_up.confirm",
        caller_id=admin.id,
        payload=NoBody(),
        work=lambda session: service.settle_manual_top_up(
            session,
            customer_id=customer_id,
            top_up_id=top_up_id,
            succeeded=True,
            admin_id=admin.id,
        ),
        status_code=status.HTTP_200_OK,
    )


@router.post(
    "/top-ups/{top_up_id}/decline",
    response_model=TopUpRead,
    summary="Decline a `manual` top-up (admin): it fails, nothing is credited",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def decline_top_up(
    customer_id: CustomerId, top_up_id: TopUpId, admin: AdminUser, idempotency: IdempotencyDep
) -> JSONResponse:
    return await idempotency.run(
        scope="wallet.top_up.decline",
        caller_id=admin.id,
        payload=NoBody(),
        work=lambda session: service.settle_manual_top_up(
            session,
            customer_id=customer_id,
            top_up_id=top_up_id,
            succeeded=False,
            admin_id=admin.id,
        ),
        status_code=status.HTTP_200_OK,
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
