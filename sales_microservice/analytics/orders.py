"""Order analytics, read from the `order_daily` rollup (never by scanning orders).

Counts add up per bucket in SQL; the ratios (average order value, units per order,
cancellation rate) are computed from a bucket's sums, so a month's average is its orders'
average, not an average of daily averages. Empty buckets are zeros.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.calendar import DateRange, buckets
from common.db.dialect import Interval, date_bucket
from common.models.orders import OrderDaily
from sales_microservice.analytics.schemas import (
    OrderBucket,
    OrderMetrics,
    OrderMetricsChange,
    OrderSeries,
    OrdersReport,
)
from sales_microservice.analytics.service import CENT, ReportFilter, change_of

ORDER_METRIC_NAMES = tuple(OrderMetrics.model_fields)
RATE = Decimal("0.0001")
SUMMED = ("orders_placed", "orders_paid", "orders_cancelled", "orders_refunded", "paid_revenue",
          "units_paid")  # fmt: skip


def _sum(column: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(column), 0)


def _columns() -> list[ColumnElement[Any]]:
    return [_sum(getattr(OrderDaily, name)).label(name) for name in SUMMED]


def _in(statement: Select[Any], period: DateRange) -> Select[Any]:
    return statement.where(
        OrderDaily.business_date >= period.start, OrderDaily.business_date <= period.end
    )


def orders_series_statement(period: DateRange, interval: Interval) -> Select[Any]:
    bucket = date_bucket(interval, OrderDaily.business_date).label("key")
    return _in(select(bucket, *_columns()).group_by(bucket), period)


def orders_totals_statement(period: DateRange) -> Select[Any]:
    return _in(select(literal_column("1").label("key"), *_columns()), period)


def _ratio(numerator: Decimal | int, denominator: int, unit: Decimal) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) / denominator).quantize(unit)


def order_metrics(
    *,
    orders_placed: int,
    orders_paid: int,
    orders_cancelled: int,
    orders_refunded: int,
    paid_revenue: Decimal,
    units_paid: int,
) -> OrderMetrics:
    return OrderMetrics(
        orders_placed=orders_placed,
        orders_paid=orders_paid,
        orders_cancelled=orders_cancelled,
        orders_refunded=orders_refunded,
        paid_revenue=paid_revenue.quantize(CENT),
        average_order_value=_ratio(paid_revenue, orders_paid, CENT),
        units_per_order=_ratio(units_paid, orders_paid, CENT),
        cancellation_rate=_ratio(orders_cancelled, orders_placed, RATE),
    )


EMPTY_ORDERS = order_metrics(
    orders_placed=0,
    orders_paid=0,
    orders_cancelled=0,
    orders_refunded=0,
    paid_revenue=Decimal(0),
    units_paid=0,
)


def _number(name: str, value: Any) -> Decimal | int:
    """Sums come back as DECIMAL on MySQL (counts too) and as floats for money on SQLite."""
    if name != "paid_revenue":
        return int(value)
    return Decimal(repr(value) if isinstance(value, float) else value)


async def _by_key(session: AsyncSession, statement: Select[Any]) -> dict[Any, OrderMetrics]:
    rows = (await session.execute(statement)).mappings().all()
    return {
        row["key"]: order_metrics(**{name: _number(name, row[name]) for name in SUMMED})  # type: ignore[arg-type]
        for row in rows
    }


async def _series(session: AsyncSession, period: DateRange, interval: Interval) -> OrderSeries:
    found = await _by_key(session, orders_series_statement(period, interval))
    totals = await _by_key(session, orders_totals_statement(period))
    return OrderSeries(
        start=period.start,
        end=period.end,
        totals=next(iter(totals.values()), EMPTY_ORDERS),
        buckets=[
            OrderBucket(
                start=bucket.start,
                end=bucket.end,
                **found.get(bucket.key, EMPTY_ORDERS).model_dump(),
            )
            for bucket in buckets(interval, period)
        ],
    )


async def orders_report(
    session: AsyncSession, report: ReportFilter, *, interval: Interval
) -> OrdersReport:
    current = await _series(session, report.period, interval)
    result = OrdersReport(interval=interval, **current.model_dump())
    compared = report.compared
    if compared is not None:
        comparison = await _series(session, compared, interval)
        result.comparison = comparison
        result.change = change_of(current.totals, comparison.totals, OrderMetricsChange)
    return result
