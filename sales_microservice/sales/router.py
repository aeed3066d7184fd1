from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from common.db.pagination import paginate
from common.identity.access import AdminUser, RequireAdmin
from common.models.sales import Sale
from common.sales.service import record_sale
from common.schemas import Page, PageDep
from common.schemas.fields import Instant
from common.web import API_PREFIX, ReadSessionDep, SettingsDep, UnitOfWorkDep, problem_responses
from sales_microservice.sales import service
from sales_microservice.sales.schemas import SaleCreate, SaleRead, SaleSort

router = APIRouter(
    prefix="/sales",
    tags=["sales"],
    dependencies=[RequireAdmin],
    responses=problem_responses(401, 403),
)

IdQuery = Annotated[int | None, Query(ge=1, le=2_147_483_647)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SaleRead,
    summary="Record a sale",
    responses=problem_responses(404, 409, 422),
)
async def create_sale(
    body: SaleCreate,
    admin: AdminUser,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
    response: Response,
) -> Sale:
    """Takes the stock, writes the sale and updates the daily rollup in one transaction."""
    sale = await uow.run(
        lambda session: record_sale(
            session,
            product_id=body.product_id,
            quantity=body.quantity,
            unit_price=body.unit_price,
            sold_at=body.sold_at,
            timezone=settings.timezone,
            actor=f"user:{admin.id}",
        )
    )
    response.headers["Location"] = f"{API_PREFIX}{router.prefix}/{sale.id}"
    return sale


@router.get(
    "", response_model=Page[SaleRead], summary="List sales", responses=problem_responses(422)
)
async def list_sales(
    session: ReadSessionDep,
    page: PageDep,
    product_id: IdQuery = None,
    category_id: IdQuery = None,
    order_id: IdQuery = None,
    start: Annotated[Instant | None, Query(description="Inclusive")] = None,
    end: Annotated[Instant | None, Query(description="Exclusive")] = None,
    sort: SaleSort = SaleSort.newest,
) -> Page[SaleRead]:
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
    "/{sale_id}", response_model=SaleRead, summary="Get a sale", responses=problem_responses(404)
)
async def get_sale(
    sale_id: Annotated[int, Path(ge=1, le=2_147_483_647)], session: ReadSessionDep
) -> Sale:
    return await service.get_sale(session, sale_id)
