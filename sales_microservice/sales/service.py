"""Sales listing; recording goes through `common.sales.service`, shared with orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import InvalidInput, NotFound
from common.models.sales import Sale
from common.sales.service import record_sale
from sales_microservice.sales.schemas import SaleCreate, SaleSort


class SaleNotFound(NotFound):
    code = "sale_not_found"
    title = "Sale not found"


async def create_sale(
    session: AsyncSession, request: SaleCreate, *, timezone: ZoneInfo, actor: str
) -> Sale:
    """A sale made by hand; `common.sales` takes the stock and writes the rollups with it."""
    return await record_sale(
        session,
        product_id=request.product_id,
        quantity=request.quantity,
        unit_price=request.unit_price,
        sold_at=request.sold_at,
        timezone=timezone,
        actor=actor,
    )


async def get_sale(session: AsyncSession, sale_id: int) -> Sale:
    sale = await session.get(Sale, sale_id)
    if sale is None:
        raise SaleNotFound(f"sale {sale_id} does not exist")
    return sale


def list_sales_statement(
    *,
    product_id: int | None = None,
    category_id: int | None = None,
    order_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    sort: SaleSort = SaleSort.newest,
) -> Select[Any]:
    if start is not None and end is not None and end <= start:
        raise InvalidInput(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    statement = select(Sale)
    if product_id is not None:
        statement = statement.where(Sale.product_id == product_id)
    if category_id is not None:
        statement = statement.where(Sale.category_id == category_id)
    if order_id is not None:
        statement = statement.where(Sale.order_id == order_id)
    if start is not None:
        statement = statement.where(Sale.sold_at >= start)
    if end is not None:
        statement = statement.where(Sale.sold_at < end)
    column = Sale.revenue if sort in (SaleSort.revenue, SaleSort.highest_revenue) else Sale.sold_at
    descending = sort.value.startswith("-")
    return statement.order_by(
        column.desc() if descending else column.asc(),
        Sale.id.desc() if descending else Sale.id.asc(),
    )
