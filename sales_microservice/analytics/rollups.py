"""Checking and repairing the sales rollups: what `/analytics/consistency` and
`/analytics/rollups/rebuild` do (the rules are `common.sales`).

A rebuild rewrites one store day per transaction, each retried on deadlock: the day's sales
are held off first (`common.sales.service.hold_off_sales`), so sales recorded meanwhile wait for
that day's rewrite and land on top of it, never beside it.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from common.db.unit_of_work import UnitOfWork
from common.sales.consistency import check_consistency
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


async def consistency(session: AsyncSession, *, start: date, end: date) -> ConsistencyReport:
    _check_range(start, end)
    report = await check_consistency(session, start=start, end=end)
    return ConsistencyReport(
        start=report.start,
        end=report.end,
        ok=report.ok,
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
        ],
        mismatch_count=report.mismatch_count,
        ledger=LedgerCheck(
            products_checked=report.products_checked,
            stock_mismatches=report.stock_mismatches,
            rating_mismatches=report.rating_mismatches,
        ),
        last_sale_at=report.last_sale_at,
    )


async def rebuild(unit_of_work: UnitOfWork, *, start: date, end: date) -> RollupRebuildResult:
    days = _check_range(start, end)
    product_rows = category_rows = 0
    for offset in range(days):
        day = start + timedelta(days=offset)
        products, categories = await unit_of_work.run(
            lambda session, day=day: rebuild_day(session, day)  # type: ignore[misc]
        )
        product_rows += products
        category_rows += categories
    return RollupRebuildResult(
        start=start, end=end, days=days, product_rows=product_rows, category_rows=category_rows
    )
