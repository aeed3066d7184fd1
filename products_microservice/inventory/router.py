"""HTTP for the inventory ledger and stock levels; admins only (levels carry cost)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from starlette.responses import Response

from common.catalog.schemas import ProductId
from common.exports.http import CSV_RESPONSE, csv_response, wants_csv
from common.identity.access import AdminUser
from common.inventory.availability import StockStatus
from common.inventory.levels import LevelInterval
from common.models.catalog import ProductStatus
from common.models.inventory import MovementKind
from common.schemas import CursorDep, CursorPage, Page, PageDep
from common.schemas.fields import Day, Id, Instant
from common.web import ReadSessionDep, SettingsDep, UnitOfWorkDep, problem_responses
from products_microservice.catalog.service import ProductFilter
from products_microservice.inventory import service
from products_microservice.inventory.filters import LedgerFilterDep
from products_microservice.inventory.schemas import (
    AdjustmentCreate,
    InventoryLevel,
    InventorySummary,
    LevelSeries,
    LowStockItem,
    MovementRead,
    ProductInventory,
    RollForward,
)

product_inventory_router = APIRouter(prefix="/products/{product_id}/inventory", tags=["inventory"])
inventory_router = APIRouter(prefix="/inventory", tags=["inventory"])


@product_inventory_router.post(
    "/adjustments",
    response_model=MovementRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record a stock change (`delta` + `kind`) or a stock count (`set_to`)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def adjust_stock(
    uow: UnitOfWorkDep, product_id: ProductId, payload: AdjustmentCreate, admin: AdminUser
) -> MovementRead:
    """Admins only. The change and the cached level are written together, guarded in SQL:
    stock never goes below zero (409 `insufficient_stock`), and with `expected_on_hand` the
    change applies only if that is still on hand (409 `stale_stock`). Returns the movement,
    with the level right after it."""
    return await uow.run(
        lambda session: service.adjust_stock(session, product_id, payload, actor=admin.actor)
    )


@product_inventory_router.get(
    "",
    response_model=ProductInventory,
    summary="A product's stock: on hand, reserved, available, status, last movement",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_product_inventory(
    session: ReadSessionDep, product_id: ProductId, _admin: AdminUser
) -> ProductInventory:
    return await service.get_product_inventory(session, product_id)


@product_inventory_router.get(
    "/movements",
    response_model=CursorPage[MovementRead],
    summary="A product's ledger, newest first (keyset pagination)",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_movements(
    session: ReadSessionDep,
    product_id: ProductId,
    _admin: AdminUser,
    cursor: CursorDep,
    kind: Annotated[MovementKind | None, Query()] = None,
    start: Annotated[Instant | None, Query(description="Inclusive")] = None,
    end: Annotated[Instant | None, Query(description="Inclusive")] = None,
) -> CursorPage[MovementRead]:
    filters = service.MovementFilter(kind=kind, start=start, end=end)
    return await service.list_movements(session, product_id, filters, cursor)


@product_inventory_router.get(
    "/levels",
    response_model=LevelSeries,
    summary="The stock level at the end of each day, week (ISO) or month, in store time",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_levels(
    session: ReadSessionDep,
    settings: SettingsDep,
    product_id: ProductId,
    _admin: AdminUser,
    interval: Annotated[LevelInterval, Query()] = "day",
    start: Annotated[Instant | None, Query(description="Default: a span before `end`")] = None,
    end: Annotated[Instant | None, Query(description="Default: now")] = None,
) -> LevelSeries:
    return await service.get_level_series(
        session,
        product_id,
        interval=interval,
        start=start,
        end=end,
        timezone=settings.timezone,
    )


@inventory_router.get(
    "",
    response_model=Page[InventoryLevel],
    summary="Levels of all products, now or `as_of` a past moment (from the ledger)",
    responses=problem_responses(401, 403, 422),
)
async def list_inventory(
    session: ReadSessionDep,
    page: PageDep,
    _admin: AdminUser,
    category_id: Annotated[Id | None, Query()] = None,
    product_status: Annotated[ProductStatus, Query(alias="status")] = ProductStatus.ACTIVE,
    stock_status: Annotated[StockStatus | None, Query()] = None,
    as_of: Annotated[Instant | None, Query(description="A moment with its UTC offset")] = None,
) -> Page[InventoryLevel]:
    filters = ProductFilter(
        category_id=category_id, status=product_status, stock_status=stock_status
    )
    return await service.list_inventory(session, filters, as_of, page)


@inventory_router.get(
    "/movements",
    response_model=CursorPage[MovementRead],
    summary="The whole store's ledger, newest first (keyset pagination)",
    responses=problem_responses(401, 403, 422),
)
async def list_ledger(
    session: ReadSessionDep,
    _admin: AdminUser,
    cursor: CursorDep,
    filters: LedgerFilterDep,
) -> CursorPage[MovementRead]:
    return await service.list_ledger(session, filters, cursor)


@inventory_router.get(
    "/low-stock",
    response_model=Page[LowStockItem],
    summary="Active products at or below their threshold, most urgent first",
    responses=problem_responses(401, 403, 422),
)
async def list_low_stock(
    session: ReadSessionDep,
    page: PageDep,
    settings: SettingsDep,
    _admin: AdminUser,
    category_id: Annotated[Id | None, Query()] = None,
) -> Page[LowStockItem]:
    today = datetime.now(settings.timezone).date()
    return await service.list_low_stock(session, category_id=category_id, page=page, today=today)


@inventory_router.get(
    "/roll-forward",
    response_model=RollForward,
    summary="Opening stock, each kind of movement, closing stock, at cost: per product",
    description=(
        "For store days `start`..`end` (inclusive, in `STORE_TIMEZONE`): `opening_units` is "
        "the level as `start` began and `closing_units` the level as `end` ended (the same as "
        "`GET /inventory?as_of=` at those instants); each kind column is the sum of that "
        "kind's deltas in the range (sale and damage negative), so `opening_units` plus the "
        "kind columns is `closing_units` for every row. Values are units x the product's cost "
        "price, as in `/inventory/summary`. Every product (archived ones too), by id; totals "
        "cover all of them. At most 366 days. `Accept: text/csv` answers every product as CSV."
    ),
    responses={**problem_responses(401, 403, 422), **CSV_RESPONSE},
)
async def get_roll_forward(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    _admin: AdminUser,
    page: PageDep,
    start: Annotated[Day, Query(description="First store day")],
    end: Annotated[Day, Query(description="Last store day, inclusive")],
    category_id: Annotated[Id | None, Query()] = None,
    product_id: Annotated[Id | None, Query()] = None,
) -> RollForward | Response:
    filters = service.RollForwardFilter(
        start=start, end=end, category_id=category_id, product_id=product_id
    )
    as_csv = wants_csv(request)
    report = await service.roll_forward_report(
        session, filters, timezone=settings.timezone, page=None if as_csv else page
    )
    if not as_csv:
        return report
    return csv_response(
        (item.model_dump(by_alias=True) for item in report.items),
        filename=f"roll-forward-{start}-{end}.csv",
    )


@inventory_router.get(
    "/summary",
    response_model=InventorySummary,
    summary="Units, value at cost and at price, stock status counts, by category",
    responses=problem_responses(401, 403),
)
async def get_summary(session: ReadSessionDep, _admin: AdminUser) -> InventorySummary:
    return await service.summarize(session)
