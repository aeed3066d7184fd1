"""Booking sales and refunds: the stock movement, the `sale` row, the `sales_daily` rollup and
the `sale.recorded` / `sale.refunded` event, in the caller's transaction. Every sale in the
system (HTTP, orders, refunds, demo data) goes through `_book`, so analytics see everything
exactly once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.dialect import accumulate
from common.db.types import utcnow
from common.errors import Conflict, InvalidInput
from common.events.outbox import emit, entity
from common.events.types import EventType
from common.inventory.availability import LockedStock, lock_stock
from common.inventory.errors import ProductNotFound
from common.inventory.ledger import record_movement, refuse_if_short
from common.models.catalog import Product
from common.models.inventory import MovementKind
from common.models.sales import Sale, SaleKind, SalesDaily, SalesDailyCategory

MAX_AMOUNT = Decimal("9999999999.99")  # DECIMAL(12,2)
# A client clock a little ahead of ours is not a sale "in the future".
CLOCK_SKEW = timedelta(seconds=60)


class ProductNotSellable(Conflict):
    code = "product_archived"
    title = "Product is archived"


class SaleInFuture(InvalidInput):
    code = "sold_at_in_future"
    title = "Sale time is in the future"


class RefundExceedsSale(Conflict):
    code = "refund_exceeds_sale"
    title = "Refund exceeds what was sold"


class AmountOutOfRange(InvalidInput):
    code = "amount_out_of_range"
    title = "Amount out of range"


def business_date(moment: datetime, timezone: ZoneInfo) -> date:
    """The store's local calendar date of an instant."""
    return moment.astimezone(timezone).date()


async def _lock_product(session: AsyncSession, product_id: int) -> LockedStock:
    product = (await lock_stock(session, [product_id])).get(product_id)
    if product is None:
        raise ProductNotFound(f"No product with id {product_id}.")
    return product


async def record_sale(
    session: AsyncSession,
    *,
    product_id: int,
    quantity: int,
    timezone: ZoneInfo,
    unit_price: Decimal | None = None,
    sold_at: datetime | None = None,
    order_id: int | None = None,
    actor: str | None = None,
    locked: LockedStock | None = None,
) -> Sale:
    """Sell `quantity` units: stock goes down (409 `insufficient_stock` when short).

    `locked` is the product as `lock_stock` read it in this transaction, when the caller holds
    its lock already (confirming a reservation), with `reserved` as it stands for this sale."""
    now = utcnow()
    moment = sold_at or now
    if moment > now + CLOCK_SKEW:
        raise SaleInFuture(f"sold_at {moment.isoformat()} is after the current time")
    product = locked if locked is not None else await _lock_product(session, product_id)
    if product.status != "active":
        raise ProductNotSellable(f"product {product_id} is archived and cannot be sold")
    price = product.price if unit_price is None else unit_price
    return await _book(
        session,
        kind=SaleKind.sale,
        product=product,
        quantity=quantity,
        unit_price=price,
        unit_cost=product.cost_price or Decimal("0"),
        category_id=product.category_id,
        moment=moment,
        timezone=timezone,
        order_id=order_id,
        actor=actor,
    )


async def record_refund(
    session: AsyncSession,
    *,
    sale: Sale,
    quantity: int,
    timezone: ZoneInfo,
    refunded_at: datetime | None = None,
    actor: str | None = None,
) -> Sale:
    """Refund `quantity` units of an earlier sale at its prices: stock comes back (`return`),
    and a negative `refund` row is dated when the refund happens."""
    product = await _lock_product(session, sale.product_id)
    # Under the product lock, so two refunds of one sale cannot both pass this check.
    refunded = -(
        await session.scalar(
            select(func.coalesce(func.sum(Sale.quantity), 0)).where(Sale.refund_of_id == sale.id)
        )
        or 0
    )
    if quantity > sale.quantity - refunded:
        raise RefundExceedsSale(
            f"sale {sale.id} sold {sale.quantity} and {refunded} were refunded already",
            refundable=sale.quantity - refunded,
        )
    return await _book(
        session,
        kind=SaleKind.refund,
        product=product,
        quantity=quantity,
        unit_price=sale.unit_price,
        unit_cost=sale.unit_cost,
        category_id=sale.category_id,
        moment=refunded_at or utcnow(),
        timezone=timezone,
        order_id=sale.order_id,
        actor=actor,
        refund_of_id=sale.id,
    )


async def _book(
    session: AsyncSession,
    *,
    kind: SaleKind,
    product: LockedStock,
    quantity: int,
    unit_price: Decimal,
    unit_cost: Decimal,
    category_id: int,
    moment: datetime,
    timezone: ZoneInfo,
    order_id: int | None,
    actor: str | None,
    refund_of_id: int | None = None,
) -> Sale:
    if quantity < 1:
        raise InvalidInput("quantity must be at least 1")
    revenue = unit_price * quantity
    cost = unit_cost * quantity
    if revenue > MAX_AMOUNT or cost > MAX_AMOUNT:
        raise AmountOutOfRange(
            f"{quantity} x {unit_price} exceeds the largest amount a sale can hold ({MAX_AMOUNT})"
        )
    sign = 1 if kind is SaleKind.sale else -1
    refuse_if_short(product, -sign * quantity)
    sale = Sale(
        kind=kind,
        product_id=product.product_id,
        category_id=category_id,
        order_id=order_id,
        refund_of_id=refund_of_id,
        quantity=sign * quantity,
        unit_price=unit_price,
        unit_cost=unit_cost,
        revenue=sign * revenue,
        cost=sign * cost,
        sold_at=moment,
        business_date=business_date(moment, timezone),
        actor=actor,
    )
    session.add(sale)
    await session.flush()
    # The ledger says why stock moved: this sale (and its order, when there is one). The
    # product's lock is already held (`product`), so the movement needs no reads of its own.
    await record_movement(
        session,
        product_id=product.product_id,
        kind=MovementKind.SALE if kind is SaleKind.sale else MovementKind.RETURN,
        delta=-sign * quantity,
        reference=f"{kind.value}:{sale.id}" + (f" order:{order_id}" if order_id else ""),
        actor=actor,
        locked=product,
    )
    await _add_to_rollup(session, sale)
    emit(
        session,
        EventType.SALE_RECORDED if kind is SaleKind.sale else EventType.SALE_REFUNDED,
        entity(sale),
    )
    return sale


def _rollup_values(sale: Sale) -> dict[str, object]:
    is_sale = sale.kind is SaleKind.sale
    return {
        "business_date": sale.business_date,
        "product_id": sale.product_id,
        "category_id": sale.category_id,
        "units_sold": sale.quantity if is_sale else 0,
        "units_refunded": 0 if is_sale else -sale.quantity,
        "revenue": sale.revenue if is_sale else Decimal("0"),
        "refunds": Decimal("0") if is_sale else -sale.revenue,
        "cost": sale.cost,
        "sales_count": 1 if is_sale else 0,
        "refund_count": 0 if is_sale else 1,
    }


ACCUMULATED = (
    "units_sold",
    "units_refunded",
    "revenue",
    "refunds",
    "cost",
    "sales_count",
    "refund_count",
)
# Each rollup level and the columns that key it; rows are locked in this order by every sale.
ROLLUPS: tuple[tuple[type[SalesDaily] | type[SalesDailyCategory], tuple[str, ...]], ...] = (
    (SalesDaily, ("business_date", "product_id", "category_id")),
    (SalesDailyCategory, ("business_date", "category_id")),
)


async def _add_to_rollup(session: AsyncSession, sale: Sale) -> None:
    values = _rollup_values(sale)
    dialect = session.get_bind().dialect
    for model, keys in ROLLUPS:
        table: Table = model.__table__  # type: ignore[assignment]
        statement = accumulate(dialect, table, key=keys, columns=ACCUMULATED)
        await session.execute(statement, {name: values[name] for name in (*keys, *ACCUMULATED)})


def _when(condition: ColumnElement[bool], then: Any, otherwise: Any) -> ColumnElement[Any]:
    return case((condition, then), else_=otherwise)


def raw_sums() -> tuple[ColumnElement[Any], ...]:
    """What each rollup column is, summed over `sale` rows: the order of `ACCUMULATED`."""
    s = Sale
    is_sale = s.kind == SaleKind.sale.value
    return (
        func.sum(_when(is_sale, s.quantity, 0)),
        func.sum(_when(is_sale, 0, -s.quantity)),
        func.sum(_when(is_sale, s.revenue, 0)),
        func.sum(_when(is_sale, 0, -s.revenue)),
        func.sum(s.cost),
        func.sum(_when(is_sale, 1, 0)),
        func.sum(_when(is_sale, 0, 1)),
    )


async def hold_off_sales(session: AsyncSession) -> None:
    """Wait for every sale in progress, and keep new ones waiting until this transaction ends.

    Every sale and refund holds its product's row lock (`lock_stock`, ascending ids) from
    before it writes its `sale` row until it commits, and writes its rollup rows after that
    row. Taking a shared lock on every product, in ascending id order through the primary
    key, therefore waits until no sale is half-written and admits none until commit, with
    the locks taken in the order sales take them (no deadlock). On SQLite the database's
    single write lock does the same. A few milliseconds per store day rebuilt.
    """
    # `updated_at` is in no index, so the locks are taken through the primary key, in order.
    await session.execute(
        select(Product.id, Product.updated_at).order_by(Product.id).with_for_update(read=True)
    )


async def rebuild_rollups(
    session: AsyncSession, *, start: date | None = None, end: date | None = None
) -> int:
    """Recompute both rollups from `sale` for [start, end] (all dates when open); idempotent.

    Sales are held off first (`hold_off_sales`), so sales recorded meanwhile wait and the
    rollups written equal the raw rows exactly. Returns the number of `sales_daily`
    rows written."""
    await hold_off_sales(session)
    return (await _rewrite_rollups(session, start=start, end=end))[0]


async def rebuild_day(session: AsyncSession, day: date) -> tuple[int, int]:
    """`rebuild_rollups` for one store day: (`sales_daily` rows, `sales_daily_category` rows)."""
    await hold_off_sales(session)
    return await _rewrite_rollups(session, start=day, end=day)


async def _rewrite_rollups(
    session: AsyncSession, *, start: date | None, end: date | None
) -> tuple[int, int]:
    s = Sale
    sums = raw_sums()
    written: list[int] = []
    for model, keys in ROLLUPS:
        key_columns = [getattr(s, key) for key in keys]
        grouped = select(*key_columns, *sums).group_by(*key_columns)
        clear = delete(model)
        if start is not None:
            grouped = grouped.where(s.business_date >= start)
            clear = clear.where(model.business_date >= start)
        if end is not None:
            grouped = grouped.where(s.business_date <= end)
            clear = clear.where(model.business_date <= end)
        await session.execute(clear)
        result = await session.execute(insert(model).from_select([*keys, *ACCUMULATED], grouped))
        written.append(int(result.rowcount or 0))  # type: ignore[attr-defined]
    return written[0], written[1]
