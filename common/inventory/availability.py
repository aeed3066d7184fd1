"""What stock is available: on hand minus what active reservations hold (one place says it).

- Reservations hold stock without moving it: `available = on hand - reserved`, where reserved
  sums the active, unexpired reservation items (`reserved_quantity`, evaluated at query
  time, so expiry needs no sweeper). A removal never takes held units: the ledger's
  `record_movement` guards `stock_on_hand + delta >= reserved` under the product's row lock
  (`lock_stock`). Creating and confirming reservations lives in `common.reservations.service`.
- `lock_stock` locks several products in ascending id order, so two writers touching the
  same products can never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Subquery,
    Table,
    bindparam,
    case,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import with_expression
from sqlalchemy.orm.interfaces import ORMOption

from common.db.dialect import begin_writing
from common.db.types import UTCDateTime, utcnow
from common.models.catalog import Product
from common.models.inventory import InventoryMovement, ReservationStatus, StockReservationItem
from common.models.sales import SalesDaily


class StockStatus(StrEnum):
    IN_STOCK = "in_stock"
    LOW_STOCK = "low_stock"
    OUT_OF_STOCK = "out_of_stock"


def _now_at_execution() -> BindParameter[datetime]:
    """The current time, taken each time a statement runs rather than when it is built, so a
    reservation stops counting the moment it expires, whoever runs the query and however
    long the statement object lives."""
    return bindparam("now", callable_=utcnow, type_=UTCDateTime(), unique=True)


def _holding() -> list[ColumnElement[bool]]:
    """Reservation items that hold stock: active and not yet expired. Expiry needs no sweeper:
    an item past `expires_at` stops holding at once."""
    return [
        StockReservationItem.status == ReservationStatus.ACTIVE.value,
        StockReservationItem.expires_at > _now_at_execution(),
    ]


def reserved_quantity() -> ColumnElement[int]:
    """Units of `Product` held by active, unexpired reservations (one index range each)."""
    held = (
        select(func.coalesce(func.sum(StockReservationItem.quantity), 0))
        .where(StockReservationItem.product_id == Product.id, *_holding())
        .correlate(Product)
        .scalar_subquery()
    )
    return cast(ColumnElement[int], held)


def products_with_holds() -> Select[tuple[int]]:
    """Ids of the products that active, unexpired reservations hold stock of (a range of the
    (status, expires_at, product_id) index): the only ones whose available stock is below
    what they have on hand."""
    return select(StockReservationItem.product_id).where(*_holding())


def held_by_product() -> Subquery:
    """Units held per product by active, unexpired reservations, as a derived table (`held`,
    keyed by `product_id`) to outer-join where many products are read at once: one grouped
    range of the holds' (status, expires_at, product_id) index, instead of a correlated sum
    per product (`reserved_quantity`, right for a page of rows, not for the whole catalog)."""
    return (
        select(
            StockReservationItem.product_id,
            func.sum(StockReservationItem.quantity).label("held"),
        )
        .where(*_holding())
        .group_by(StockReservationItem.product_id)
        .subquery("held")
    )


def available_quantity() -> ColumnElement[int]:
    return Product.stock_on_hand - reserved_quantity()


@dataclass(frozen=True)
class LockedStock:
    """A product as its row lock shows it: nobody else can change these until commit."""

    product_id: int
    status: str
    price: Decimal
    cost_price: Decimal | None
    category_id: int
    on_hand: int
    reserved: int
    # When the product's ledger last moved: a new movement is dated no earlier.
    last_movement_at: datetime | None
    low_stock_threshold: int = 0
    # Units this sale takes from a hold of its own (a reservation being confirmed, already
    # left out of `reserved`): they were not available before, so selling them moves no
    # available stock (`common.events.stock`).
    confirming: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@lru_cache(maxsize=1)
def _lock_stock_statements() -> tuple[Select[Any], Select[Any]]:
    """Built once: this is on every sale's path, and building and hashing the statements cost
    more than the database takes to answer them."""
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    # One index probe per product (product_id, created_at), read in the same round trip.
    last_movement = (
        select(func.max(InventoryMovement.created_at))
        .where(InventoryMovement.product_id == Product.id)
        .scalar_subquery()
    )
    locking_read = (
        select(
            Product.id,
            Product.status,
            Product.price,
            Product.cost_price,
            Product.category_id,
            Product.stock_on_hand,
            last_movement.label("last_movement_at"),
            Product.low_stock_threshold,
        )
        .where(Product.id.in_(ids))
        .order_by(Product.id)
        .with_for_update()
    )
    holds = (
        select(StockReservationItem.product_id, func.sum(StockReservationItem.quantity))
        .where(StockReservationItem.product_id.in_(ids), *_holding())
        .group_by(StockReservationItem.product_id)
        .with_for_update(read=True)
    )
    return locking_read, holds


async def lock_stock(session: AsyncSession, product_ids: Iterable[int]) -> dict[int, LockedStock]:
    """Lock the products' rows in ascending id order and read, under those locks, what is on
    hand and what reservations hold. Unknown ids are simply absent from the result.

    Every writer that adds a reservation item holds its product's row lock, so once we hold
    it no new hold can appear. The sum is a locking read because MySQL's plain reads see the
    transaction's snapshot, which may predate a hold committed just before our lock.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    await begin_writing(session, cast(Table, Product.__table__), ids)
    locking_read, holds = _lock_stock_statements()
    rows = (await session.execute(locking_read, {"ids": ids})).all()
    held_rows = await session.execute(holds, {"ids": ids})
    held = {product_id: int(units) for product_id, units in held_rows.all()}
    return {
        row.id: LockedStock(
            product_id=row.id,
            status=row.status,
            price=row.price,
            cost_price=row.cost_price,
            category_id=row.category_id,
            on_hand=row.stock_on_hand,
            reserved=int(held.get(row.id, 0)),
            last_movement_at=row.last_movement_at,
            low_stock_threshold=row.low_stock_threshold,
        )
        for row in rows
    }


COVER_WINDOW_DAYS = 30


async def days_of_cover(
    session: AsyncSession, available: Mapping[int, int], *, today: date
) -> dict[int, Decimal | None]:
    """Days the available units last at the average daily units sold (net of refunds) over
    the 30 store-local days ending `today`, per product id; null for a product that sold
    nothing in that window (no rate of sale is known, and a made-up one would mislead).

    Reads the `sales_daily` rollup: at most 30 rows per product."""
    if not available:
        return {}
    sold = (
        await session.execute(
            select(
                SalesDaily.product_id,
                func.sum(SalesDaily.units_sold - SalesDaily.units_refunded),
            )
            .where(
                SalesDaily.product_id.in_(list(available)),
                SalesDaily.business_date > today - timedelta(days=COVER_WINDOW_DAYS),
                SalesDaily.business_date <= today,
            )
            .group_by(SalesDaily.product_id)
        )
    ).tuples()
    rate = {product_id: Decimal(units) / COVER_WINDOW_DAYS for product_id, units in sold}
    return {
        product_id: (units / rate[product_id]).quantize(Decimal("0.1"))
        if rate.get(product_id, 0) > 0
        else None
        for product_id, units in available.items()
    }


def with_reserved() -> ORMOption:
    """Load `Product.reserved` with the query, so `Product` rows can report availability."""
    return with_expression(Product.reserved, reserved_quantity())


def stock_status_of(available: int, threshold: int) -> StockStatus:
    """The rule that `stock_status_expression` states in SQL (a test holds them equal)."""
    if available <= 0:
        return StockStatus.OUT_OF_STOCK
    if available <= threshold:
        return StockStatus.LOW_STOCK
    return StockStatus.IN_STOCK


def stock_status_expression(
    available: ColumnElement[int], threshold: ColumnElement[int] | None = None
) -> ColumnElement[str]:
    limit = Product.low_stock_threshold if threshold is None else threshold
    return case(
        (available <= 0, StockStatus.OUT_OF_STOCK.value),
        (available <= limit, StockStatus.LOW_STOCK.value),
        else_=StockStatus.IN_STOCK.value,
    )
