"""`/api/v1/customers`: accounts as the store sees them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from common.db.pagination import paginate
from common.identity.access import AdminUser, SelfOrAdmin
from common.identity.router import client_address
from common.identity.schemas import CustomerId
from common.models.identity import Role
from common.schemas import Page, PageDep
from common.web import SessionDep, SettingsDep, UnitOfWorkDep, problem_responses
from sales_microservice.customers import service
from sales_microservice.customers.schemas import (
    CustomerCreate,
    CustomerRead,
    CustomerSort,
    CustomerUpdate,
    SortOrder,
)

router = APIRouter(prefix="/customers", tags=["customers"])


@router.get(
    "",
    response_model=Page[CustomerRead],
    summary="Search accounts (admin)",
    responses=problem_responses(401, 403, 422),
)
async def list_customers(
    _admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Part of the e-mail, name or phone"),
    ] = None,
    role: Role | None = None,
    is_active: bool | None = None,
    sort: CustomerSort = CustomerSort.id,
    order: SortOrder = SortOrder.asc,
) -> Page[CustomerRead]:
    """`sort` by a lifetime figure (`order=desc` for the best first); ties by id. Accounts
    with no order have no `last_order_at`: they come first ascending, last descending."""
    statement = service.customer_search(
        q=q, role=role, is_active=is_active, sort=sort, descending=order is SortOrder.desc
    )
    return await paginate(session, statement, page, schema=CustomerRead)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerRead,
    summary="Create an account (admin)",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_customer(
    body: CustomerCreate, _admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> CustomerRead:
    account = await service.create_customer(session, body, settings=settings)
    return CustomerRead.model_validate(account)


@router.get(
    "/{customer_id}",
    response_model=CustomerRead,
    summary="One account (the customer themself, or an admin)",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_customer(
    customer_id: CustomerId, _actor: SelfOrAdmin, session: SessionDep
) -> CustomerRead:
    return CustomerRead.model_validate(await service.get_customer(session, customer_id))


@router.patch(
    "/{customer_id}",
    response_model=CustomerRead,
    summary="Change an account (role and is_active: admin only; your own e-mail: with your "
    "current password)",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
async def update_customer(
    customer_id: CustomerId,
    body: CustomerUpdate,
    actor: SelfOrAdmin,
    request: Request,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
) -> CustomerRead:
    await service.confirm_own_email_change(
        uow,
        customer_id=customer_id,
        changes=body,
        actor=actor,
        address=client_address(request),
        settings=settings,
    )
    account = await uow.run(
        lambda session: service.update_customer(
            session, customer_id=customer_id, changes=body, actor=actor
        )
    )
    return CustomerRead.model_validate(account)


@router.delete(
    "/{customer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    response_model=None,
    summary="Deactivate an account (admin); its history and money records are kept",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def deactivate_customer(
    customer_id: CustomerId, _admin: AdminUser, uow: UnitOfWorkDep
) -> None:
    await uow.run(lambda session: service.deactivate_customer(session, customer_id=customer_id))
