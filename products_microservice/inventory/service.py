"""Stock adjustments and inventory reads, on top of the shared ledger in `common.inventory`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, null, select, type_coerce, union
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.pagination import keyset_paginate, paginate
from common.db.types import CENT, Money, utcnow
from common.errors import InvalidInput
from common.inventory.availability import (
    StockStatus,
    available_quantity,
    days_of_cover,
    held_by_product,
    products_with_holds,
    reserved_quantity,
    stock_status_expression,
    stock_status_of,
)
from common.inventory.errors import ProductNotFound
from common.inventory.ledger import record_movement, set_stock
from common.inventory.levels import (
    LevelInterval,
    level_as_of_expression,
    level_series,
    levels_as_of,
)
from common.inventory.rollforward import KINDS, ProductFlow, Window, roll_forward
from common.models.catalog import Category, Product, ProductStatus
from common.models.inventory import InventoryMovement, MovementKind
from common.schemas import CursorPage, CursorParams, Page, PageParams
from products_microservice.catalog.service import ProductFilter
from products_microservice.inventory.filters import LedgerFilter
from products_microservice.inventory.schemas import (
    AdjustmentCreate,
    CategoryStock,
    InventoryLevel,
    InventorySummary,
    LevelPointRead,
    LevelSeries,
    LowStockItem,
    MovementRead,
    ProductInventory,
    RollForward,
    RollForwardItem,
    RollForwardTotals,
)

# When a chart asks for no start: this far back from `end`.
DEFAULT_LEVEL_SPAN: dict[str, timedelta] = {
    "day": timedelta(days=30),
    "week": timedelta(weeks=12),
    "month": timedelta(days=365),
}


async def adjust_stock(
    session: AsyncSession,
    product_id: int,
    payload: AdjustmentCreate,
    *,
    actor: str | None = None,
) -> MovementRead:
    if payload.set_to is not None:
        movement = await set_stock(
            session,
            product_id=product_id,
            set_to=payload.set_to,
            kind=MovementKind(payload.kind or MovementKind.ADJUSTMENT),
            expected_on_hand=payload.expected_on_hand,
            reference=payload.reference,
            actor=actor,
            note=payload.note,
        )
    else:
        # The schema guarantees both with `delta`.
        assert payload.delta is not None
        assert payload.kind is not None
        movement = await record_movement(
            session,
            product_id=product_id,
            kind=MovementKind(payload.kind),
            delta=payload.delta,
            expected_on_hand=payload.expected_on_hand,
            reference=payload.reference,
            actor=actor,
            note=payload.note,
        )
    return MovementRead.model_validate(movement)


async def _ensure_product(session: AsyncSession, product_id: int) -> None:
    if await session.scalar(select(Product.id).where(Product.id == product_id)) is None:
        raise ProductNotFound(f"No product with id {product_id}.")


async def get_product_inventory(session: AsyncSession, product_id: int) -> ProductInventory:
    row = (
        await session.execute(
            select(
                Product.id,
                Product.sku,
                Product.stock_on_hand,
                reserved_quantity().label("reserved"),
                available_quantity().label("available"),
                Product.low_stock_threshold,
                stock_status_expression(available_quantity()).label("stock_status"),
            ).where(Product.id == product_id)
        )
    ).one_or_none()
    if row is None:
        raise ProductNotFound(f"No product with id {product_id}.")
    last = await session.scalar(
        select(InventoryMovement)
        .where(InventoryMovement.product_id == product_id)
        .order_by(InventoryMovement.id.desc())
        .limit(1)
    )
    return ProductInventory(
        product_id=row.id,
        sku=row.sku,
        on_hand=row.stock_on_hand,
        reserved=row.reserved,
        available=row.available,
        low_stock_threshold=row.low_stock_threshold,
        stock_status=row.stock_status,
        last_movement=MovementRead.model_validate(last) if last else None,
    )


@dataclass(frozen=True)
class MovementFilter:
    kind: MovementKind | None = None
    start: datetime | None = None
    end: datetime | None = None


async def list_movements(
    session: AsyncSession, product_id: int, filters: MovementFilter, cursor: CursorParams
) -> CursorPage[MovementRead]:
    await _ensure_product(session, product_id)
    statement = select(InventoryMovement).where(InventoryMovement.product_id == product_id)
    if filters.kind is not None:
        statement = statement.where(InventoryMovement.kind == filters.kind.value)
    if filters.start is not None:
        statement = statement.where(InventoryMovement.created_at >= filters.start)
    if filters.end is not None:
        statement = statement.where(InventoryMovement.created_at <= filters.end)
    return await keyset_paginate(
        session, statement, cursor, id_column=InventoryMovement.id, schema=MovementRead
    )


async def list_ledger(
    session: AsyncSession, filters: LedgerFilter, cursor: CursorParams
) -> CursorPage[MovementRead]:
    """Every product's movements, newest first (keyset on the id)."""
    statement = select(InventoryMovement).where(*filters.conditions())
    return await keyset_paginate(
        session, statement, cursor, id_column=InventoryMovement.id, schema=MovementRead
    )


async def get_level_series(
    session: AsyncSession,
    product_id: int,
    *,
    interval: LevelInterval,
    start: datetime | None,
    end: datetime | None,
    timezone: ZoneInfo,
) -> LevelSeries:
    await _ensure_product(session, product_id)
    end = end or utcnow()
    start = start or end - DEFAULT_LEVEL_SPAN[interval]
    points = await level_series(
        session,
        product_id=product_id,
        interval=interval,
        start=start,
        end=end,
        timezone=timezone,
    )
    return LevelSeries(
        product_id=product_id,
        interval=interval,
        timezone=timezone.key,
        start=start,
        end=end,
        points=[LevelPointRead(period_start=p.period_start, level=p.level) for p in points],
    )


def _stock_columns() -> list[ColumnElement[Any]]:
    """What every stock listing shows of a product, current levels included."""
    return [
        Product.id.label("product_id"),
        Product.sku.expression,
        Product.name.expression,
        Product.category_id.expression,
        Product.stock_on_hand.label("on_hand"),
        reserved_quantity().label("reserved"),
        available_quantity().label("available"),
        Product.low_stock_threshold.expression,
    ]


async def list_inventory(
    session: AsyncSession, filters: ProductFilter, as_of: datetime | None, page: PageParams
) -> Page[InventoryLevel]:
    """Levels now, or at `as_of`. A past level is read from the ledger for the listed page
    only (`levels_as_of`); only a `stock_status` filter on a past level needs it per product
    in SQL."""
    past_level = level_as_of_expression(as_of) if as_of is not None else None
    available = available_quantity()
    statement = (
        select(
            *_stock_columns(),
            stock_status_expression(available).label("stock_status"),
        )
        .where(*filters.conditions(past_level))
        .order_by(Product.name, Product.id)
    )
    result = await paginate(session, statement, page, schema=InventoryLevel)
    if as_of is None:
        return result
    levels = await levels_as_of(session, [item.product_id for item in result.items], as_of)
    # Reservations are not history: a past level is what was on the shelf.
    past = [
        item.model_copy(
            update={
                "on_hand": levels[item.product_id],
                "reserved": None,
                "available": levels[item.product_id],
                "stock_status": stock_status_of(levels[item.product_id], item.low_stock_threshold),
                "as_of": as_of,
            }
        )
        for item in result.items
    ]
    return result.model_copy(update={"items": past})


def _urgency() -> list[ColumnElement[Any]]:
    """Most urgent first: out of stock, then the smallest share of the threshold left, then
    the biggest shortfall. Once sales exist, days of cover is the better measure."""
    available = available_quantity()
    return [
        case((available <= 0, 0), else_=1),
        (available * 1.0) / func.nullif(Product.low_stock_threshold, 0),
        (available - Product.low_stock_threshold),
        Product.id.expression,
    ]


MAX_LOW_STOCK_CANDIDATES = 5000


async def list_low_stock(
    session: AsyncSession, *, category_id: int | None, page: PageParams, today: date
) -> Page[LowStockItem]:
    available = available_quantity()
    # Available stock is at most what is on hand, so a product is low only when its level is
    # at or below its threshold (ids from ix_product_status_stock_on_hand_low_stock_threshold
    # alone) or when reservations hold some of it (ids from the holds' (status, expires_at)
    # index). Only those candidates have their reserved units summed, never every product of
    # the catalog. A statement of their own: joined to a derived table, MariaDB would start
    # from `product` and sum the reservations of every row.
    candidates = (
        await session.scalars(
            union(
                select(Product.id).where(
                    Product.status == ProductStatus.ACTIVE.value,
                    Product.stock_on_hand <= Product.low_stock_threshold,
                ),
                products_with_holds(),
            ).limit(MAX_LOW_STOCK_CANDIDATES + 1)
        )
    ).all()
    statement = (
        select(
            *_stock_columns(),
            (Product.low_stock_threshold - available).label("shortfall"),
            stock_status_expression(available).label("stock_status"),
            null().label("days_of_cover"),
        )
        .where(
            Product.status == ProductStatus.ACTIVE.value,
            available <= Product.low_stock_threshold,
        )
        .order_by(*_urgency())
    )
    if len(candidates) <= MAX_LOW_STOCK_CANDIDATES:
        # Beyond that the ids would make a statement too long to send (SQLite takes at most
        # 32,766 parameters); the conditions above alone give the same rows, more slowly.
        statement = statement.where(Product.id.in_(candidates))
    if category_id is not None:
        statement = statement.where(Product.category_id == category_id)
    result = await paginate(session, statement, page, schema=LowStockItem)
    cover = await days_of_cover(
        session, {item.product_id: item.available for item in result.items}, today=today
    )
    return result.model_copy(
        update={
            "items": [
                item.model_copy(update={"days_of_cover": cover.get(item.product_id)})
                for item in result.items
            ]
        }
    )


async def summarize(session: AsyncSession) -> InventorySummary:
    """Totals of active products, by category, aggregated in one grouped query (the holds
    joined once, grouped by product, not summed per product and per status)."""
    held = held_by_product()
    status = stock_status_expression(Product.stock_on_hand - func.coalesce(held.c.held, 0))

    def count_of(stock_status: StockStatus) -> ColumnElement[int]:
        return func.count(case((status == stock_status.value, 1)))

    rows = (
        (
            await session.execute(
                select(
                    Category.id.label("category_id"),
                    Category.name.label("category_name"),
                    func.count(Product.id).label("product_count"),
                    func.sum(Product.stock_on_hand).label("total_units"),
                    type_coerce(
                        func.sum(Product.stock_on_hand * func.coalesce(Product.cost_price, 0)),
                        Money(),
                    ).label("value_at_cost"),
                    type_coerce(func.sum(Product.stock_on_hand * Product.price), Money()).label(
                        "value_at_price"
                    ),
                    count_of(StockStatus.IN_STOCK).label("in_stock_count"),
                    count_of(StockStatus.LOW_STOCK).label("low_stock_count"),
                    count_of(StockStatus.OUT_OF_STOCK).label("out_of_stock_count"),
                )
                .join(Product, Product.category_id == Category.id)
                .outerjoin(held, held.c.product_id == Product.id)
                .where(Product.status == ProductStatus.ACTIVE.value)
                .group_by(Category.id, Category.name)
                .order_by(Category.name, Category.id)
            )
        )
        .mappings()
        .all()
    )
    by_category = [CategoryStock.model_validate(row) for row in rows]
    return InventorySummary(
        product_count=sum(c.product_count for c in by_category),
        total_units=sum(c.total_units for c in by_category),
        value_at_cost=sum((c.value_at_cost for c in by_category), Decimal("0.00")),
        value_at_price=sum((c.value_at_price for c in by_category), Decimal("0.00")),
        in_stock_count=sum(c.in_stock_count for c in by_category),
        low_stock_count=sum(c.low_stock_count for c in by_category),
        out_of_stock_count=sum(c.out_of_stock_count for c in by_category),
        by_category=by_category,
    )


# A year, leap day included: the longest range the roll-forward reads in one request.
MAX_ROLL_FORWARD_DAYS = 366


class RollForwardRange(InvalidInput):
    code = "invalid_range"
    title = "Invalid date range"


@dataclass(frozen=True)
class RollForwardFilter:
    start: date
    end: date
    category_id: int | None = None
    product_id: int | None = None


def _value(units: int, cost_price: Decimal | None) -> Decimal:
    return (units * (cost_price or Decimal("0"))).quantize(CENT)


def _flow_fields(flow: ProductFlow) -> dict[str, int]:
    return {kind.value: flow.by_kind[kind] for kind in KINDS}


async def roll_forward_report(
    session: AsyncSession,
    filters: RollForwardFilter,
    *,
    timezone: ZoneInfo,
    page: PageParams | None,
) -> RollForward:
    """Opening, each kind's flow and closing per product (every status), by product id;
    `page=None` for every product (the CSV). Totals cover every product the filters match."""
    if filters.end < filters.start:
        raise RollForwardRange("`end` must not be before `start`.")
    days = (filters.end - filters.start).days + 1
    if days > MAX_ROLL_FORWARD_DAYS:
        raise RollForwardRange(
            f"At most {MAX_ROLL_FORWARD_DAYS} days per roll-forward; this range has {days}.",
            max_days=MAX_ROLL_FORWARD_DAYS,
        )
    statement = select(
        Product.id, Product.sku, Product.name, Product.category_id, Product.cost_price
    ).order_by(Product.id)
    if filters.category_id is not None:
        statement = statement.where(Product.category_id == filters.category_id)
    if filters.product_id is not None:
        statement = statement.where(Product.id == filters.product_id)
    products = (await session.execute(statement)).all()
    window = Window.of_days(filters.start, filters.end, timezone)
    flows = await roll_forward(session, [product.id for product in products], window)
    items = [
        RollForwardItem.model_validate(
            {
                "product_id": product.id,
                "sku": product.sku,
                "name": product.name,
                "category_id": product.category_id,
                "opening_units": flow.opening_units,
                "opening_value": _value(flow.opening_units, product.cost_price),
                **_flow_fields(flow),
                "closing_units": flow.closing_units,
                "closing_value": _value(flow.closing_units, product.cost_price),
            }
        )
        for product in products
        for flow in (flows[product.id],)
    ]
    units = [name for name in RollForwardTotals.model_fields if not name.endswith("_value")]
    totals = RollForwardTotals.model_validate(
        {
            **{name: sum(int(getattr(item, name)) for item in items) for name in units},
            "opening_value": sum((item.opening_value for item in items), Decimal("0.00")),
            "closing_value": sum((item.closing_value for item in items), Decimal("0.00")),
        }
    )
    limit, offset = (page.limit, page.offset) if page else (len(items), 0)
    return RollForward(
        start=filters.start,
        end=filters.end,
        timezone=timezone.key,
        valuation="cost_price",
        items=items[offset : offset + limit],
        totals=totals,
        total=len(items),
        limit=max(limit, 1),
        offset=offset,
    )
