"""`/api/v1/sales`: record and list sales transactions (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from common.db.pagination import paginate
from common.identity.access import AdminUser
from common.models.sales import Sale
from common.schemas import Page, PageDep
from common.schemas.fields import Instant
from common.web import ReadSessionDep, SessionDep, SettingsDep, UnitOfWorkDep, problem_responses
from sales_microservice.sales import service
from sales_microservice.sales.schemas import IdQuery, SaleCreate, SaleId, SaleRead, SaleSort

router = APIRouter(prefix="/sales", tags=["sales"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SaleRead,
    summary="Record a sale",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_sale(
    body: SaleCreate,
    admin: AdminUser,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> Sale:
    """Takes the stock, writes the sale and updates the daily rollup in one transaction."""
    sale = await uow.run(
        lambda session: service.create_sale(
            session, body, timezone=settings.timezone, actor=admin.actor
        )
    )
    # The path, as before (clients and tests read it relative to the service).
    response.headers["Location"] = request.url_for("get_sale", sale_id=sale.id).path
    return sale


@router.get(
    "",
    response_model=Page[SaleRead],
    summary="List sales",
    responses=problem_responses(401, 403, 422),
)
async def list_sales(
    _admin: AdminUser,
    session: ReadSessionDep,
    page: PageDep,
    product_id: IdQuery = None,
    category_id: IdQuery = None,
    order_id: IdQuery = None,
    start: Annotated[Instant | None, Query(description="Inclusive")] = None,
    end: Annotated[Instant | None, Query(description="Exclusive")] = None,
    sort: SaleSort = SaleSort.newest,
) -> Page[SaleRead]:
    """Admins only. Sales and refunds, newest first unless `sort` says otherwise, filtered by
    product, category, order and a `[start, end)` window of `sold_at`."""
    statement = service.list_sales_statement(
        product_id=product_id,
        category_id=category_id,
        order_id=order_id,
        start=start,
        end=end,
        sort=sort,
    )
    return await paginate(session, statement, page, schema=SaleRead)


@router.get(
    "/{sale_id}",
    response_model=SaleRead,
    summary="Get a sale",
    responses=problem_responses(401, 403, 404),
)
async def get_sale(sale_id: SaleId, _admin: AdminUser, session: SessionDep) -> Sale:
    return await service.get_sale(session, sale_id)
