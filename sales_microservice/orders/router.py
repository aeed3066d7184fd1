"""`/api/v1/orders` and `/api/v1/customers/{customer_id}/orders`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.pagination import paginate
from common.identity.access import AdminUser, CurrentUser, Principal, SelfOrAdmin
from common.identity.schemas import CustomerId
from common.models.orders import CustomerOrder, OrderStatus
from common.schemas import NoBody, Page, PageDep
from common.schemas.fields import Id, Instant
from common.web import ReadSessionDep, SessionDep, SettingsDep, problem_responses
from common.web.idempotency import Idempotency, IdempotencyDep
from sales_microservice.orders import service
from sales_microservice.orders.schemas import (
    OrderCancel,
    OrderCreate,
    OrderId,
    OrderRead,
    OrderStatusUpdate,
    StatusChangeRead,
)

orders_router = APIRouter(prefix="/orders", tags=["orders"])
customer_orders_router = APIRouter(prefix="/customers/{customer_id}/orders", tags=["orders"])


async def _run_once(
    idempotency: Idempotency,
    *,
    scope: str,
    caller: Principal,
    payload: BaseModel,
    operation: Callable[[AsyncSession], Awaitable[CustomerOrder]],
    status_code: int = status.HTTP_200_OK,
) -> JSONResponse:
    """Run an order operation in one retried unit of work, under the caller's
    `Idempotency-Key` when one is sent, and answer with the order."""

    async def work(session: AsyncSession) -> OrderRead:
        return OrderRead.model_validate(await operation(session))

    return await idempotency.run(
        scope=scope, caller_id=caller.id, payload=payload, work=work, status_code=status_code
    )


@orders_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderRead,
    summary="Place an order: reserves the stock until `expires_at`; accepts Idempotency-Key",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_order(
    body: OrderCreate, actor: CurrentUser, settings: SettingsDep, idempotency: IdempotencyDep
) -> JSONResponse:
    """A customer orders for themselves; an admin names the `customer_id`. Prices are the
    store's at this moment. The stock is reserved (all lines or none: 409
    `insufficient_stock`) until `expires_at`; an order beyond the wallet's balance is 409
    `insufficient_funds` and holds nothing. Send `Idempotency-Key` to retry safely."""
    return await _run_once(
        idempotency,
        scope="orders.create",
        caller=actor,
        payload=body,
        operation=lambda session: service.create_order(
            session,
            body,
            actor=actor,
            ttl_seconds=settings.order_reservation_ttl,
            max_pending=settings.order_max_pending_per_customer,
            timezone=settings.timezone,
        ),
        status_code=status.HTTP_201_CREATED,
    )


@orders_router.post(
    "/{order_id}/pay",
    response_model=OrderRead,
    summary="Pay from the wallet: debit, sell the reserved stock, mark paid; "
    "accepts Idempotency-Key",
    responses=problem_responses(401, 404, 409, 422),
)
async def pay_order(
    order_id: OrderId, actor: CurrentUser, settings: SettingsDep, idempotency: IdempotencyDep
) -> JSONResponse:
    """The order's customer or an admin. In one transaction: the wallet is debited (409
    `insufficient_funds` if it cannot pay), the reserved stock becomes sales and the order
    turns `paid`. An expired order is 409 `order_expired`, a settled one 409
    `order_not_pending`. Send `Idempotency-Key` to retry safely."""

    async def work(session: AsyncSession) -> OrderRead:
        order = await service.pay_order(session, order_id, actor=actor, timezone=settings.timezone)
        return OrderRead.model_validate(order)

    return await idempotency.run(
        scope="orders.pay",
        caller_id=actor.id,
        payload=NoBody(),
        work=work,
        status_code=status.HTTP_200_OK,
    )


@orders_router.post(
    "/{order_id}/cancel",
    response_model=OrderRead,
    summary="Cancel a pending order (releases the stock) or refund a paid one; "
    "accepts Idempotency-Key",
    responses=problem_responses(401, 404, 409, 422),
)
async def cancel_order(
    order_id: OrderId,
    body: OrderCancel,
    actor: CurrentUser,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    return await _run_once(
        idempotency,
        scope="orders.cancel",
        caller=actor,
        payload=body,
        operation=lambda session: service.cancel_order(
            session, order_id, body, actor=actor, timezone=settings.timezone
        ),
    )


@orders_router.post(
    "/{order_id}/status",
    response_model=OrderRead,
    summary="Fulfilment (admin): paid -> shipped -> delivered",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def update_order_status(
    order_id: OrderId, body: OrderStatusUpdate, admin: AdminUser, idempotency: IdempotencyDep
) -> JSONResponse:
    return await _run_once(
        idempotency,
        scope="orders.status",
        caller=admin,
        payload=body,
        operation=lambda session: service.update_status(session, order_id, body, actor=admin),
    )


@orders_router.get(
    "",
    response_model=Page[OrderRead],
    summary="Orders, newest first: a customer's own, or (admin) everyone's",
    responses=problem_responses(401, 403, 422),
)
async def list_orders(
    actor: CurrentUser,
    session: ReadSessionDep,
    page: PageDep,
    status: Annotated[OrderStatus | None, Query()] = None,
    customer_id: Annotated[Id | None, Query()] = None,
    start: Annotated[Instant | None, Query(description="Placed at or after (inclusive)")] = None,
    end: Annotated[Instant | None, Query(description="Placed before (exclusive)")] = None,
) -> Page[OrderRead]:
    filters = service.OrderFilter(status=status, customer_id=customer_id, start=start, end=end)
    statement = service.list_orders_statement(filters, actor=actor)
    return await paginate(session, statement, page, schema=OrderRead)


@orders_router.get(
    "/{order_id}",
    response_model=OrderRead,
    summary="One order (its customer, or an admin)",
    responses=problem_responses(401, 404, 422),
)
async def read_order(order_id: OrderId, actor: CurrentUser, session: SessionDep) -> OrderRead:
    """Its customer or an admin; another customer's order answers 404, as if it did not
    exist. A pending order past `expires_at` reads `expired`."""
    return OrderRead.model_validate(await service.get_order(session, order_id, actor=actor))


@orders_router.get(
    "/{order_id}/history",
    response_model=list[StatusChangeRead],
    summary="Every status change of an order, oldest first",
    responses=problem_responses(401, 404, 422),
)
async def read_order_history(
    order_id: OrderId, actor: CurrentUser, session: SessionDep
) -> list[StatusChangeRead]:
    changes = await service.order_history(session, order_id, actor=actor)
    return [StatusChangeRead.model_validate(change) for change in changes]


@customer_orders_router.get(
    "",
    response_model=Page[OrderRead],
    summary="A customer's orders, newest first (the customer themself, or an admin)",
    responses=problem_responses(401, 403, 422),
)
async def list_customer_orders(
    customer_id: CustomerId,
    actor: SelfOrAdmin,
    session: ReadSessionDep,
    page: PageDep,
    status: Annotated[OrderStatus | None, Query()] = None,
) -> Page[OrderRead]:
    filters = service.OrderFilter(status=status, customer_id=customer_id)
    statement = service.list_orders_statement(filters, actor=actor)
    return await paginate(session, statement, page, schema=OrderRead)
