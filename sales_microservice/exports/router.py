"""`/api/v1/exports`: orders, customers, sales and wallet entries as CSV or XLSX (admins only).

Filters are those of the matching lists (`GET /orders`, `/customers`, `/sales`, and a
customer's wallet entries, here store-wide with optional filters)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from common.config import Settings
from common.exports.files import ExportFormat
from common.exports.http import EXPORT_RESPONSE, dated_filename, export_format, stream_export
from common.identity.access import AdminUser
from common.models.identity import Role, WalletEntryKind
from common.models.orders import OrderStatus
from common.schemas.fields import Id, Instant
from common.web import DatabaseDep, SettingsDep, problem_responses
from sales_microservice.exports import service
from sales_microservice.orders.service import OrderFilter
from sales_microservice.sales.schemas import IdQuery

router = APIRouter(prefix="/exports", tags=["exports"])
RESPONSES = {**problem_responses(401, 403, 422), **EXPORT_RESPONSE}
FormatDep = Annotated[ExportFormat, Depends(export_format)]
Start = Annotated[Instant | None, Query(description="Inclusive")]
End = Annotated[Instant | None, Query(description="Exclusive")]


async def _send(
    batches: service.Batches,
    *,
    stem: str,
    columns: tuple[str, ...],
    file_format: ExportFormat,
    settings: Settings,
) -> Response:
    today = datetime.now(settings.timezone).date()
    return await stream_export(
        batches,
        columns=columns,
        file_format=file_format,
        filename=dated_filename(stem, today, file_format),
    )


@router.get(
    "/orders",
    response_class=Response,
    summary="Orders, one row per line, with the order's status, customer and total",
    responses=RESPONSES,
)
async def export_orders(
    admin: AdminUser,
    database: DatabaseDep,
    settings: SettingsDep,
    file_format: FormatDep,
    status: Annotated[OrderStatus | None, Query()] = None,
    customer_id: Annotated[Id | None, Query()] = None,
    start: Annotated[Instant | None, Query(description="Placed at or after (inclusive)")] = None,
    end: Annotated[Instant | None, Query(description="Placed before (exclusive)")] = None,
) -> Response:
    filters = OrderFilter(status=status, customer_id=customer_id, start=start, end=end)
    batches = service.order_batches(await database.reader(), filters, actor=admin)
    return await _send(
        batches,
        stem="orders",
        columns=service.ORDER_COLUMNS,
        file_format=file_format,
        settings=settings,
    )


@router.get(
    "/customers",
    response_class=Response,
    summary="Accounts with their lifetime figures (orders paid, spend, last order)",
    responses=RESPONSES,
)
async def export_customers(
    _admin: AdminUser,
    database: DatabaseDep,
    settings: SettingsDep,
    file_format: FormatDep,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Part of the e-mail, name or phone"),
    ] = None,
    role: Role | None = None,
    is_active: bool | None = None,
) -> Response:
    batches = service.customer_batches(await database.reader(), q=q, role=role, is_active=is_active)
    return await _send(
        batches,
        stem="customers",
        columns=service.CUSTOMER_COLUMNS,
        file_format=file_format,
        settings=settings,
    )


@router.get(
    "/sales",
    response_class=Response,
    summary="Sales and refunds, one row each",
    responses=RESPONSES,
)
async def export_sales(
    _admin: AdminUser,
    database: DatabaseDep,
    settings: SettingsDep,
    file_format: FormatDep,
    product_id: IdQuery = None,
    category_id: IdQuery = None,
    order_id: IdQuery = None,
    start: Start = None,
    end: End = None,
) -> Response:
    batches = service.sale_batches(
        await database.reader(),
        product_id=product_id,
        category_id=category_id,
        order_id=order_id,
        start=start,
        end=end,
    )
    return await _send(
        batches,
        stem="sales",
        columns=service.SALE_COLUMNS,
        file_format=file_format,
        settings=settings,
    )


@router.get(
    "/wallet-entries",
    response_class=Response,
    summary="The wallet ledger of every customer (or one), oldest first",
    responses=RESPONSES,
)
async def export_wallet_entries(
    _admin: AdminUser,
    database: DatabaseDep,
    settings: SettingsDep,
    file_format: FormatDep,
    customer_id: Annotated[Id | None, Query()] = None,
    kind: Annotated[WalletEntryKind | None, Query()] = None,
    start: Start = None,
    end: End = None,
) -> Response:
    filters = service.WalletEntryFilter(customer_id=customer_id, kind=kind, start=start, end=end)
    batches = service.wallet_entry_batches(await database.reader(), filters)
    return await _send(
        batches,
        stem="wallet-entries",
        columns=service.WALLET_COLUMNS,
        file_format=file_format,
        settings=settings,
    )
