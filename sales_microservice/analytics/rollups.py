"""Checking and repairing the sales and order rollups: what `/analytics/consistency` and
`/analytics/rollups/rebuild` do (the rules are `common.sales` and `common.orders.rollups`).

A rebuild rewrites one store day per transaction, each retried on deadlock: the day's sales
are held off first (`common.sales.service.hold_off_sales`), so sales recorded meanwhile wait for
that day's rewrite and land on top of it, never beside it. The day's order rollups follow in a
transaction of their own that holds the day's orders off the same way
(`common.orders.rollups.hold_off_orders`); the accounts' lifetime figures last, a batch of
locked accounts per transaction.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from common.db.unit_of_work import UnitOfWork
from common.orders.rollups import lifetime_mismatches, order_mismatches, rebuild_orders
from common.sales.consistency import MAX_LISTED_MISMATCHES, check_consistency
from common.sales.service import rebuild_day
from sales_microservice.analytics.schemas import (
    ConsistencyReport,
    LedgerCheck,
    RollupMismatchRead,
    RollupRebuildResult,
)
from sales_microservice.analytics.service import InvalidRange

# A year, leap day included: the longest range one request checks or rebuilds.
MAX_DAYS = 366


def _check_range(start: date, end: date) -> int:
    if end < start:
        raise InvalidRange("`end` must not be before `start`.")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise InvalidRange(
            f"At most {MAX_DAYS} days per request; this range has {days}.", max_days=MAX_DAYS
        )
    return days


async def consistency(
    session: AsyncSession, *, start: date, end: date, timezone: ZoneInfo
) -> ConsistencyReport:
    _check_range(start, end)
    report = await check_consistency(session, start=start, end=end)
    orders = await order_mismatches(session, start=start, end=end, timezone=timezone)
    lifetimes = await lifetime_mismatches(session, timezone)
    listed = MAX_LISTED_MISMATCHES - len(report.mismatches)
    return ConsistencyReport(
        start=report.start,
        end=report.end,
        ok=report.ok and not orders and not lifetimes,
        days_checked=report.days_checked,
        mismatches=[
            RollupMismatchRead(
                business_date=item.business_date,
                scope=item.scope,
                id=item.id,
                field=item.field,
                rollup=item.rollup,
                raw=item.raw,
            )
            for item in report.mismatches
        ]
        + [
            RollupMismatchRead(
                business_date=item.business_date,
                scope=item.scope,
                id=item.id,
                field=item.field,
                rollup=item.rollup,
                raw=item.raw,
            )
            for item in orders[: max(listed, 0)]
        ],
        mismatch_count=report.mismatch_count + len(orders),
        ledger=LedgerCheck(
            products_checked=report.products_checked,
            stock_mismatches=report.stock_mismatches,
            rating_mismatches=report.rating_mismatches,
            lifetime_mismatches=len({item.id for item in lifetimes}),
        ),
        last_sale_at=report.last_sale_at,
    )


async def rebuild(
    unit_of_work: UnitOfWork, *, start: date, end: date, timezone: ZoneInfo
) -> RollupRebuildResult:
    days = _check_range(start, end)
    product_rows = category_rows = 0
    for offset in range(days):
        day = start + timedelta(days=offset)
        products, categories = await unit_of_work.run(
            lambda session, day=day: rebuild_day(session, day)  # type: ignore[misc]
        )
        product_rows += products
        category_rows += categories
    orders = await rebuild_orders(unit_of_work.run, start=start, end=end, timezone=timezone)
    return RollupRebuildResult(
        start=start,
        end=end,
        days=days,
        product_rows=product_rows,
        category_rows=category_rows,
        order_rows=orders.order_rows,
        customer_rows=orders.customer_rows,
        accounts_rewritten=orders.accounts_rewritten,
    )
