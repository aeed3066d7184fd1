"""The order rollups: `order_daily`, `customer_daily` and the accounts' lifetime figures, kept
in the caller's transaction by every placement, payment, cancellation and refund, and
rebuilt (or checked) from the raw orders.

What each figure is, over the raw rows, with store days in the store's time zone:

- placed: an order on the day of its `created_at`; paid: on the day of its `paid_at`, with
  its total and units (refunded later or not); cancelled / refunded: on the day of its
  `order_status_change` to that status (an expiry is no cancellation);
- a customer's day: the orders they paid that day, what those paid, and how much of that has
  been refunded since (charged back to the day of payment);
- an account: orders paid (refunded ones included), paid minus refunded, the latest
  placement, and the day of the first payment.

Lock order: each writer upserts its `order_daily` row last but one, then the `customer_daily`
row, after every other lock of the operation (the account's is held already). A rebuild of a
day takes that day's `order_daily` row, then its `customer_daily` rows, before it reads
anything: writers of the day wait for the rewrite and land on top of it, and what committed
before is in what it reads (the lock comes first, so the read sees everything before it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, case, delete, func, insert, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.calendar import local_midnight
from common.db.dialect import accumulate
from common.db.types import Money, UTCDateTime
from common.models.identity import UserAccount
from common.models.orders import (
    CustomerDaily,
    CustomerOrder,
    OrderDaily,
    OrderItem,
    OrderStatus,
    OrderStatusChange,
)

ZERO = Decimal("0.00")
ORDER_COUNTERS = (
    "orders_placed",
    "orders_paid",
    "paid_revenue",
    "units_paid",
    "orders_cancelled",
    "orders_refunded",
    "refunded_revenue",
)
CUSTOMER_COUNTERS = ("orders_paid", "paid_spend", "refunded_spend")
MONEY_COUNTERS = frozenset({"paid_revenue", "refunded_revenue", "paid_spend", "refunded_spend"})
# Orders that were paid: the statuses a paid order can be in afterwards.
PAID_STATUSES = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.REFUNDED)


def store_day(moment: datetime, timezone: ZoneInfo) -> date:
    return moment.astimezone(timezone).date()


# --- kept by the order flow -------------------------------------------------------------------


async def _add_to_day(session: AsyncSession, day: date, **counts: Any) -> None:
    values = {name: counts.get(name, 0) for name in ORDER_COUNTERS}
    table: Table = OrderDaily.__table__  # type: ignore[assignment]
    statement = accumulate(
        session.get_bind().dialect, table, key=("business_date",), columns=ORDER_COUNTERS
    )
    await session.execute(statement, {"business_date": day, **values})


async def _add_to_customer_day(
    session: AsyncSession, day: date, customer_id: int, **counts: Any
) -> None:
    values = {name: counts.get(name, 0) for name in CUSTOMER_COUNTERS}
    table: Table = CustomerDaily.__table__  # type: ignore[assignment]
    statement = accumulate(
        session.get_bind().dialect,
        table,
        key=("business_date", "customer_id"),
        columns=CUSTOMER_COUNTERS,
    )
    await session.execute(statement, {"business_date": day, "customer_id": customer_id, **values})


async def _update_account(session: AsyncSession, customer_id: int, **values: Any) -> None:
    # `updated_at` stays: these figures are the orders', not a change to the account.
    await session.execute(
        update(UserAccount)
        .where(UserAccount.id == customer_id)
        .values(updated_at=UserAccount.updated_at, **values)
        .execution_options(synchronize_session=False)
    )


async def order_placed(session: AsyncSession, order: CustomerOrder, timezone: ZoneInfo) -> None:
    """After the order's rows; the customer's account is locked already."""
    await _add_to_day(session, store_day(order.created_at, timezone), orders_placed=1)
    await _update_account(session, order.customer_id, last_order_at=order.created_at)


async def order_paid(
    session: AsyncSession, order: CustomerOrder, *, units: int, timezone: ZoneInfo
) -> None:
    assert order.paid_at is not None
    day = store_day(order.paid_at, timezone)
    await _add_to_day(session, day, orders_paid=1, paid_revenue=order.total, units_paid=units)
    await _add_to_customer_day(
        session, day, order.customer_id, orders_paid=1, paid_spend=order.total
    )
    await _update_account(
        session,
        order.customer_id,
        orders_count=UserAccount.orders_count + 1,
        lifetime_spend=UserAccount.lifetime_spend + order.total,
        first_paid_date=func.coalesce(UserAccount.first_paid_date, day),
    )


async def order_cancelled(
    session: AsyncSession, order: CustomerOrder, *, at: datetime, timezone: ZoneInfo
) -> None:
    await _add_to_day(session, store_day(at, timezone), orders_cancelled=1)


async def order_refunded(
    session: AsyncSession, order: CustomerOrder, *, at: datetime, timezone: ZoneInfo
) -> None:
    assert order.paid_at is not None
    await _add_to_day(
        session, store_day(at, timezone), orders_refunded=1, refunded_revenue=order.total
    )
    await _add_to_customer_day(
        session,
        store_day(order.paid_at, timezone),
        order.customer_id,
        refunded_spend=order.total,
    )
    await _update_account(
        session, order.customer_id, lifetime_spend=UserAccount.lifetime_spend - order.total
    )


# --- what the raw rows add up to ----------------------------------------------------------


@dataclass
class RawDays:
    """The rollup rows of a range of days, as the raw orders have them."""

    orders: dict[date, dict[str, Any]] = field(default_factory=dict)
    customers: dict[tuple[date, int], dict[str, Any]] = field(default_factory=dict)

    def order_day(self, day: date) -> dict[str, Any]:
        return self.orders.setdefault(day, {name: 0 for name in ORDER_COUNTERS})

    def customer_day(self, day: date, customer_id: int) -> dict[str, Any]:
        return self.customers.setdefault(
            (day, customer_id), {name: 0 for name in CUSTOMER_COUNTERS}
        )


def _window(start: date, end: date, timezone: ZoneInfo) -> tuple[datetime, datetime]:
    return local_midnight(start, timezone), local_midnight(end + timedelta(days=1), timezone)


async def raw_days(session: AsyncSession, *, start: date, end: date, timezone: ZoneInfo) -> RawDays:
    """Read by index: placements by `created_at`, payments by `paid_at`, cancellations and
    refunds by (`to_status`, `created_at`)."""
    since, until = _window(start, end, timezone)
    raw = RawDays()
    o = CustomerOrder
    placed = await session.scalars(
        select(o.created_at).where(o.created_at >= since, o.created_at < until)
    )
    for moment in placed:
        raw.order_day(store_day(moment, timezone))["orders_placed"] += 1
    units = (
        select(func.coalesce(func.sum(OrderItem.quantity), 0))
        .where(OrderItem.order_id == o.id)
        .scalar_subquery()
    )
    paid = await session.execute(
        select(o.paid_at, o.customer_id, o.total, o.status, units.label("units")).where(
            o.paid_at >= since, o.paid_at < until
        )
    )
    for row in paid:
        day = store_day(row.paid_at, timezone)
        totals = raw.order_day(day)
        totals["orders_paid"] += 1
        totals["paid_revenue"] += row.total
        totals["units_paid"] += int(row.units)
        mine = raw.customer_day(day, row.customer_id)
        mine["orders_paid"] += 1
        mine["paid_spend"] += row.total
        if row.status == OrderStatus.REFUNDED.value:
            mine["refunded_spend"] += row.total
    change = OrderStatusChange
    closed = await session.execute(
        select(change.created_at, change.to_status, o.total)
        .join(o, o.id == change.order_id)
        .where(
            change.to_status.in_([OrderStatus.CANCELLED.value, OrderStatus.REFUNDED.value]),
            change.created_at >= since,
            change.created_at < until,
        )
    )
    for row in closed:
        totals = raw.order_day(store_day(row.created_at, timezone))
        if row.to_status == OrderStatus.CANCELLED.value:
            totals["orders_cancelled"] += 1
        else:
            totals["orders_refunded"] += 1
            totals["refunded_revenue"] += row.total
    return raw


# --- rebuilding ----------------------------------------------------------------------------


async def hold_off_orders(session: AsyncSession, day: date) -> None:
    """Take the day's `order_daily` row (made if missing) and its `customer_daily` rows, in the
    writers' order: every placement, payment, cancellation or refund of the day waits."""
    await _add_to_day(session, day)
    await session.execute(
        select(CustomerDaily.customer_id)
        .where(CustomerDaily.business_date == day)
        .order_by(CustomerDaily.customer_id)
        .with_for_update()
    )


@dataclass(frozen=True)
class Rewritten:
    order_rows: int
    customer_rows: int


async def rewrite_order_days(
    session: AsyncSession, *, start: date, end: date, timezone: ZoneInfo
) -> Rewritten:
    """Replace the rollup rows of [start, end] with what the raw orders add up to (the
    caller holds writers off, or has none: the demo generator)."""
    raw = await raw_days(session, start=start, end=end, timezone=timezone)
    for model in (OrderDaily, CustomerDaily):
        await session.execute(
            delete(model).where(model.business_date >= start, model.business_date <= end)
        )
    if raw.orders:
        await session.execute(
            insert(OrderDaily),
            [{"business_date": key, **values} for key, values in raw.orders.items()],
        )
    if raw.customers:
        await session.execute(
            insert(CustomerDaily),
            [
                {"business_date": key[0], "customer_id": key[1], **values}
                for key, values in raw.customers.items()
            ],
        )
    return Rewritten(order_rows=len(raw.orders), customer_rows=len(raw.customers))


async def rebuild_order_day(session: AsyncSession, day: date, timezone: ZoneInfo) -> Rewritten:
    """Rewrite one store day of `order_daily` and `customer_daily` from the raw orders, in
    its own transaction: the hold comes before any read."""
    await hold_off_orders(session, day)
    return await rewrite_order_days(session, start=day, end=day, timezone=timezone)


async def order_history(session: AsyncSession, timezone: ZoneInfo) -> tuple[date, date] | None:
    """The first and last store day any order was placed, paid, cancelled or refunded on."""
    first = await session.scalar(
        select(type_coerce(func.min(CustomerOrder.created_at), UTCDateTime()))
    )
    if first is None:
        return None
    last = max(
        moment
        for moment in [
            await session.scalar(select(type_coerce(func.max(column), UTCDateTime())))
            for column in (
                CustomerOrder.created_at,
                CustomerOrder.paid_at,
                OrderStatusChange.created_at,
            )
        ]
        if moment is not None
    )
    return store_day(first, timezone), store_day(last, timezone)


async def rebuild_all_orders(session: AsyncSession, timezone: ZoneInfo) -> None:
    """Every order rollup and lifetime figure from the raw orders, in the caller's
    transaction, nothing held off: for a store being generated (the demo, the benchmark)."""
    history = await order_history(session, timezone)
    if history is not None:
        await rewrite_order_days(session, start=history[0], end=history[1], timezone=timezone)
    for batch in await account_batches(session):
        await rebuild_lifetimes(session, batch, timezone)


# The accounts whose lifetime figures one transaction recomputes.
ACCOUNTS_PER_BATCH = 500


@dataclass(frozen=True)
class Lifetime:
    orders_count: int
    lifetime_spend: Decimal
    last_order_at: datetime | None
    first_paid_date: date | None


EMPTY_LIFETIME = Lifetime(
    orders_count=0, lifetime_spend=ZERO, last_order_at=None, first_paid_date=None
)


async def raw_lifetimes(
    session: AsyncSession, customer_ids: Iterable[int], timezone: ZoneInfo
) -> dict[int, Lifetime]:
    """Every listed account's figures as its orders have them (zeros when it has none)."""
    ids = list(customer_ids)
    o = CustomerOrder
    paid = o.status.in_([status.value for status in PAID_STATUSES])
    kept = and_(paid, o.status != OrderStatus.REFUNDED.value)
    rows = await session.execute(
        select(
            o.customer_id,
            func.sum(case((paid, 1), else_=0)).label("orders_count"),
            type_coerce(func.sum(case((kept, o.total), else_=0)), Money()).label("spend"),
            type_coerce(func.max(o.created_at), UTCDateTime()).label("last_order_at"),
            type_coerce(func.min(o.paid_at), UTCDateTime()).label("first_paid_at"),
        )
        .where(o.customer_id.in_(ids))
        .group_by(o.customer_id)
    )
    found = {
        row.customer_id: Lifetime(
            orders_count=int(row.orders_count or 0),
            lifetime_spend=row.spend if row.spend is not None else ZERO,
            last_order_at=row.last_order_at,
            first_paid_date=(store_day(row.first_paid_at, timezone) if row.first_paid_at else None),
        )
        for row in rows
    }
    return {customer_id: found.get(customer_id, EMPTY_LIFETIME) for customer_id in ids}


async def stored_lifetimes(
    session: AsyncSession, customer_ids: Iterable[int], *, lock: bool = False
) -> dict[int, Lifetime]:
    a = UserAccount
    statement = (
        select(a.id, a.orders_count, a.lifetime_spend, a.last_order_at, a.first_paid_date)
        .where(a.id.in_(list(customer_ids)))
        .order_by(a.id)
    )
    if lock:
        statement = statement.with_for_update()
    return {
        row.id: Lifetime(
            orders_count=row.orders_count,
            lifetime_spend=row.lifetime_spend,
            last_order_at=row.last_order_at,
            first_paid_date=row.first_paid_date,
        )
        for row in await session.execute(statement)
    }


async def account_batches(session: AsyncSession) -> list[list[int]]:
    """Every account id, in batches of `ACCOUNTS_PER_BATCH` (ascending)."""
    ids = list(await session.scalars(select(UserAccount.id).order_by(UserAccount.id)))
    return [ids[i : i + ACCOUNTS_PER_BATCH] for i in range(0, len(ids), ACCOUNTS_PER_BATCH)]


async def rebuild_lifetimes(
    session: AsyncSession, customer_ids: Iterable[int], timezone: ZoneInfo
) -> int:
    """Recompute these accounts' lifetime figures from their orders; its own transaction.

    The accounts are locked first, in id order (every placement, payment and refund holds
    its customer's lock while it writes), and read only after: returns how many changed."""
    stored = await stored_lifetimes(session, customer_ids, lock=True)
    raw = await raw_lifetimes(session, stored, timezone)
    changed = 0
    for customer_id, figures in raw.items():
        if stored[customer_id] == figures:
            continue
        changed += 1
        await _update_account(
            session,
            customer_id,
            orders_count=figures.orders_count,
            lifetime_spend=figures.lifetime_spend,
            last_order_at=figures.last_order_at,
            first_paid_date=figures.first_paid_date,
        )
    return changed


# --- checking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderMismatch:
    business_date: date | None  # None for an account's lifetime figure
    scope: str  # "orders" (the day's row), "customer" (a customer's day), "account"
    id: int  # the customer's id; 0 for the day's row
    field: str
    rollup: Decimal | int | str | None
    raw: Decimal | int | str | None


def _exact(name: str, value: Any) -> Decimal | int:
    if name in MONEY_COUNTERS:
        return Decimal(repr(value) if isinstance(value, float) else value or 0).quantize(
            Decimal("0.01")
        )
    return int(value or 0)


def _differences(
    scope: str,
    raw: dict[Any, dict[str, Any]],
    stored: dict[Any, dict[str, Any]],
    names: tuple[str, ...],
) -> list[OrderMismatch]:
    found = []
    for key in sorted(raw.keys() | stored.keys()):
        day, who = key if isinstance(key, tuple) else (key, 0)
        expected, kept = raw.get(key, {}), stored.get(key, {})
        for name in names:
            raw_value, rollup_value = _exact(name, expected.get(name)), _exact(name, kept.get(name))
            if raw_value != rollup_value:
                found.append(OrderMismatch(day, scope, who, name, rollup_value, raw_value))
    return found


async def order_mismatches(
    session: AsyncSession, *, start: date, end: date, timezone: ZoneInfo
) -> list[OrderMismatch]:
    """Every field of `order_daily` and `customer_daily` in [start, end] that differs from
    the raw orders (a day or customer-day with only zeros counts as absent)."""
    raw = await raw_days(session, start=start, end=end, timezone=timezone)
    stored_orders = {
        row.business_date: dict(row._mapping)
        for row in await session.execute(
            select(OrderDaily)
            .where(OrderDaily.business_date >= start, OrderDaily.business_date <= end)
            .with_only_columns(
                OrderDaily.business_date, *(getattr(OrderDaily, n) for n in ORDER_COUNTERS)
            )
        )
    }
    stored_customers = {
        (row.business_date, row.customer_id): dict(row._mapping)
        for row in await session.execute(
            select(
                CustomerDaily.business_date,
                CustomerDaily.customer_id,
                *(getattr(CustomerDaily, n) for n in CUSTOMER_COUNTERS),
            ).where(CustomerDaily.business_date >= start, CustomerDaily.business_date <= end)
        )
    }
    return _differences("orders", raw.orders, stored_orders, ORDER_COUNTERS) + _differences(
        "customer", raw.customers, stored_customers, CUSTOMER_COUNTERS
    )


async def lifetime_mismatches(session: AsyncSession, timezone: ZoneInfo) -> list[OrderMismatch]:
    """Every account whose lifetime figures differ from its orders, field by field."""
    found = []
    for batch in await account_batches(session):
        stored = await stored_lifetimes(session, batch)
        raw = await raw_lifetimes(session, batch, timezone)
        for customer_id in batch:
            kept, expected = stored[customer_id], raw[customer_id]
            for name in ("orders_count", "lifetime_spend", "last_order_at", "first_paid_date"):
                rollup_value, raw_value = getattr(kept, name), getattr(expected, name)
                if rollup_value != raw_value:
                    text = isinstance(raw_value, date | datetime) or raw_value is None
                    found.append(
                        OrderMismatch(
                            None,
                            "account",
                            customer_id,
                            name,
                            str(rollup_value)
                            if text and rollup_value is not None
                            else rollup_value,
                            str(raw_value) if text and raw_value is not None else raw_value,
                        )
                    )
    return found


# --- a range, one transaction a day ---------------------------------------------------------

T = TypeVar("T")
Runner = Callable[[Callable[[AsyncSession], Awaitable[T]]], Awaitable[T]]


@dataclass(frozen=True)
class OrdersRebuilt:
    order_rows: int
    customer_rows: int
    accounts_rewritten: int


async def rebuild_orders(
    run: Runner[Any], *, start: date | None, end: date | None, timezone: ZoneInfo
) -> OrdersRebuilt:
    """`rebuild_order_day` for every day of [start, end] (open ends: the orders' history),
    each day in its own transaction through `run` (a unit of work's, retried on deadlock),
    then every account's lifetime figures, a locked batch per transaction."""
    history = await run(lambda session: order_history(session, timezone))
    first = start or (history[0] if history else None)
    last = end or (history[1] if history else None)
    order_rows = customer_rows = accounts = 0
    day = first
    while day is not None and last is not None and day <= last:
        done: Rewritten = await run(
            lambda session, day=day: rebuild_order_day(session, day, timezone)  # type: ignore[misc]
        )
        order_rows += done.order_rows
        customer_rows += done.customer_rows
        day += timedelta(days=1)
    for batch in await run(account_batches):
        accounts += await run(
            lambda session, batch=batch: rebuild_lifetimes(session, batch, timezone)  # type: ignore[misc]
        )
    return OrdersRebuilt(order_rows, customer_rows, accounts)
