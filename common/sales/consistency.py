"""Reports that check themselves: the sales rollups recomputed from the raw `sale` rows and
compared field by field, with the stock ledger and the rating counters reconciled too.

The comparison reads a few days at a time (`DAYS_PER_READ`): memory follows the products
sold in those days, not the range. Only the first `MAX_LISTED_MISMATCHES` differences are
listed; `mismatch_count` has them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.inventory.audit import reconcile
from common.models.catalog import Product
from common.models.sales import Sale, SalesDaily
from common.reviews.ratings import rating_problems
from common.sales.service import ACCUMULATED, ROLLUPS, raw_sums

DAYS_PER_READ = 7
MAX_LISTED_MISMATCHES = 1000
Scope = Literal["product", "category"]


@dataclass(frozen=True)
class RollupMismatch:
    business_date: date
    scope: Scope
    id: int  # the product's id (scope "product") or the category's
    field: str
    rollup: Decimal | int
    raw: Decimal | int


@dataclass
class Consistency:
    start: date
    end: date
    days_checked: int
    mismatches: list[RollupMismatch] = field(default_factory=list)
    mismatch_count: int = 0
    products_checked: int = 0
    stock_mismatches: int = 0
    rating_mismatches: int = 0
    last_sale_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return not (self.mismatch_count or self.stock_mismatches or self.rating_mismatches)


MONEY_FIELDS = frozenset({"revenue", "refunds", "cost"})


def _normal(name: str, value: Any) -> Decimal | int:
    """A sum as an exact number on both backends: MySQL sums integers as DECIMAL, SQLite
    returns money sums as floats."""
    if name not in MONEY_FIELDS:
        return int(value or 0)
    return Decimal(repr(value) if isinstance(value, float) else value or 0).quantize(
        Decimal("0.01")
    )


async def _rows(
    session: AsyncSession, statement: Any, keys: Sequence[str]
) -> dict[tuple[Any, ...], tuple[Decimal | int, ...]]:
    width = len(keys)
    return {
        tuple(row[:width]): tuple(
            _normal(name, value) for name, value in zip(ACCUMULATED, row[width:], strict=True)
        )
        for row in (await session.execute(statement)).all()
    }


async def _compare(session: AsyncSession, start: date, end: date, report: Consistency) -> None:
    for model, keys in ROLLUPS:
        scope: Scope = "product" if model is SalesDaily else "category"
        key_columns = [getattr(Sale, key) for key in keys]
        raw = await _rows(
            session,
            select(*key_columns, *raw_sums())
            .where(Sale.business_date >= start, Sale.business_date <= end)
            .group_by(*key_columns),
            keys,
        )
        stored = await _rows(
            session,
            select(
                *(getattr(model, key) for key in keys),
                *(getattr(model, name) for name in ACCUMULATED),
            ).where(model.business_date >= start, model.business_date <= end),
            keys,
        )
        zero = tuple(0 for _ in ACCUMULATED)
        for key in sorted(raw.keys() | stored.keys()):
            expected, found = raw.get(key, zero), stored.get(key, zero)
            for name, raw_value, rollup_value in zip(ACCUMULATED, expected, found, strict=True):
                if raw_value == rollup_value:
                    continue
                report.mismatch_count += 1
                if len(report.mismatches) < MAX_LISTED_MISMATCHES:
                    report.mismatches.append(
                        RollupMismatch(
                            business_date=key[0],
                            scope=scope,
                            id=key[1],
                            field=name,
                            rollup=rollup_value,
                            raw=raw_value,
                        )
                    )


async def check_consistency(session: AsyncSession, *, start: date, end: date) -> Consistency:
    """The rollups of [start, end] against the raw sales, and the stock and rating ledgers."""
    report = Consistency(start=start, end=end, days_checked=(end - start).days + 1)
    day = start
    while day <= end:
        last = min(day + timedelta(days=DAYS_PER_READ - 1), end)
        await _compare(session, day, last, report)
        day = last + timedelta(days=1)
    report.products_checked = int(
        await session.scalar(select(func.count()).select_from(Product)) or 0
    )
    report.stock_mismatches = len(await reconcile(session))
    report.rating_mismatches = len(await rating_problems(session))
    report.last_sale_at = await session.scalar(select(func.max(Sale.sold_at)))
    return report
