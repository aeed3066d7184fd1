"""Revenue analytics, read from the `sales_daily` rollup (never by scanning `sale`).

Pure functions build each `Select` from a `ReportFilter`; `_metrics_by_key` is the one place
that runs them and turns rows into `Metrics`. Empty buckets are filled with zeros in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.calendar import MAX_BUCKETS, Compare, DateRange, bucket_count, buckets, compared_range
from common.db.dialect import Interval, date_bucket
from common.errors import InvalidInput
from common.models.catalog import Category, Product
from common.models.sales import SalesDaily, SalesDailyCategory
from common.schemas import Schema
from sales_microservice.analytics.schemas import (
    BucketMetrics,
    Card,
    CategoryReport,
    CategoryRevenue,
    Change,
    Leader,
    Metrics,
    MetricsChange,
    Period,
    ProductReport,
    ProductRevenue,
    ProductSort,
    RevenueReport,
    RevenueSeries,
    SortOrder,
    Summary,
)

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
METRIC_NAMES = tuple(Metrics.model_fields)


class InvalidRange(InvalidInput):
    code = "invalid_range"
    title = "Invalid date range"


class TooManyBuckets(InvalidInput):
    code = "too_many_buckets"
    title = "Too many buckets"


class UnknownReference(InvalidInput):
    code = "unknown_reference"
    title = "Unknown product or category"


@dataclass(frozen=True)
class ReportFilter:
    period: DateRange
    product_ids: tuple[int, ...] = ()
    category_ids: tuple[int, ...] = ()
    compare: Compare = Compare.none

    @property
    def compared(self) -> DateRange | None:
        return compared_range(self.compare, self.period)


# --- statements ---------------------------------------------------------------------------------


def _sum(column: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(column), 0)


Rollup = type[SalesDaily] | type[SalesDailyCategory]


def _source(report: ReportFilter) -> Rollup:
    """The per-category rollup is tens of times smaller; only a product filter needs the
    per-product one."""
    return SalesDaily if report.product_ids else SalesDailyCategory


def _metric_columns(d: Rollup) -> list[ColumnElement[Any]]:
    return [
        _sum(d.revenue).label("revenue"),
        _sum(d.refunds).label("refunds"),
        _sum(d.cost).label("cost"),
        _sum(d.units_sold).label("units_sold"),
        _sum(d.units_refunded).label("units_refunded"),
        _sum(d.sales_count).label("sales_count"),
    ]


def _restrict(
    statement: Select[Any], d: Rollup, report: ReportFilter, period: DateRange
) -> Select[Any]:
    statement = statement.where(d.business_date >= period.start, d.business_date <= period.end)
    if report.product_ids:
        statement = statement.where(SalesDaily.product_id.in_(report.product_ids))
    if report.category_ids:
        statement = statement.where(d.category_id.in_(report.category_ids))
    return statement


def totals_statement(report: ReportFilter, period: DateRange) -> Select[Any]:
    d = _source(report)
    statement = select(literal_column("1").label("key"), *_metric_columns(d))
    return _restrict(statement, d, report, period)


def series_statement(report: ReportFilter, period: DateRange, interval: Interval) -> Select[Any]:
    d = _source(report)
    bucket = date_bucket(interval, d.business_date).label("key")
    statement = select(bucket, *_metric_columns(d)).group_by(bucket)
    return _restrict(statement, d, report, period)


def by_category_statement(report: ReportFilter, period: DateRange) -> Select[Any]:
    d = _source(report)
    statement = select(d.category_id.label("key"), *_metric_columns(d)).group_by(d.category_id)
    return _restrict(statement, d, report, period)


def by_product_statement(report: ReportFilter, period: DateRange) -> Select[Any]:
    d = SalesDaily
    statement = select(d.product_id.label("key"), *_metric_columns(d)).group_by(d.product_id)
    return _restrict(statement, d, report, period)


# --- running them ---------------------------------------------------------------------------


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if denominator == 0:
        return None
    return (numerator / denominator * HUNDRED).quantize(CENT)


def metrics_from_sums(
    *,
    revenue: Decimal,
    refunds: Decimal,
    cost: Decimal,
    units_sold: int,
    units_refunded: int,
    sales_count: int,
) -> Metrics:
    net = (revenue - refunds).quantize(CENT)
    profit = (net - cost).quantize(CENT)
    return Metrics(
        revenue=revenue.quantize(CENT),
        refunds=refunds.quantize(CENT),
        net_revenue=net,
        cost=cost.quantize(CENT),
        profit=profit,
        margin=_ratio(profit, net),
        units=units_sold - units_refunded,
        sales_count=sales_count,
    )


EMPTY = metrics_from_sums(
    revenue=ZERO, refunds=ZERO, cost=ZERO, units_sold=0, units_refunded=0, sales_count=0
)


async def _metrics_by_key(session: AsyncSession, statement: Select[Any]) -> dict[Any, Metrics]:
    rows = (await session.execute(statement)).mappings().all()
    return {
        row["key"]: metrics_from_sums(
            revenue=Decimal(row["revenue"]),
            refunds=Decimal(row["refunds"]),
            cost=Decimal(row["cost"]),
            units_sold=int(row["units_sold"]),
            units_refunded=int(row["units_refunded"]),
            sales_count=int(row["sales_count"]),
        )
        for row in rows
    }


async def _totals(session: AsyncSession, report: ReportFilter, period: DateRange) -> Metrics:
    found = await _metrics_by_key(session, totals_statement(report, period))
    return next(iter(found.values()), EMPTY)


def change_between(current: Decimal | int | None, previous: Decimal | int | None) -> Change:
    now, before = Decimal(current or 0), Decimal(previous or 0)
    return Change(
        absolute=(now - before).quantize(CENT), percentage=_ratio(now - before, abs(before))
    )


ChangeT = TypeVar("ChangeT", bound=Schema)


def change_of(current: Schema, previous: Schema, into: type[ChangeT]) -> ChangeT:
    """`into` (a schema of `Change` fields) from two metric schemas sharing its field names."""
    return into(
        **{
            name: change_between(getattr(current, name), getattr(previous, name))
            for name in into.model_fields
        }
    )


def metrics_change(current: Metrics, previous: Metrics) -> MetricsChange:
    return MetricsChange(
        **{
            name: change_between(getattr(current, name), getattr(previous, name))
            for name in METRIC_NAMES
        }
    )


# --- validation -----------------------------------------------------------------------------


async def check_filter(
    session: AsyncSession, report: ReportFilter, *, interval: Interval = "day"
) -> None:
    """422 for ranges and references no report can be built from."""
    period = report.period
    if period.end < period.start:
        raise InvalidRange(f"end ({period.end}) is before start ({period.start})")
    count = bucket_count(interval, period)
    if count > MAX_BUCKETS:
        raise TooManyBuckets(
            f"{count} {interval} buckets requested; at most {MAX_BUCKETS} per report",
            buckets=count,
            max_buckets=MAX_BUCKETS,
        )
    await _check_ids(session, Product, report.product_ids, "product_id")
    await _check_ids(session, Category, report.category_ids, "category_id")


async def _check_ids(
    session: AsyncSession, model: type[Product] | type[Category], ids: Sequence[int], name: str
) -> None:
    if not ids:
        return
    found = set((await session.scalars(select(model.id).where(model.id.in_(ids)))).all())
    missing = sorted(set(ids) - found)
    if missing:
        raise UnknownReference(
            f"unknown {name}: {', '.join(map(str, missing))}",
            errors=[
                {"in": "query", "name": name, "detail": f"no such id: {value}", "type": "unknown"}
                for value in missing
            ],
        )


# --- reports --------------------------------------------------------------------------------


async def _series(
    session: AsyncSession, report: ReportFilter, period: DateRange, interval: Interval
) -> RevenueSeries:
    found = await _metrics_by_key(session, series_statement(report, period, interval))
    return RevenueSeries(
        start=period.start,
        end=period.end,
        totals=await _totals(session, report, period),
        buckets=[
            BucketMetrics(
                start=bucket.start,
                end=bucket.end,
                **found.get(bucket.key, EMPTY).model_dump(),
            )
            for bucket in buckets(interval, period)
        ],
    )


async def revenue_report(
    session: AsyncSession, report: ReportFilter, *, interval: Interval
) -> RevenueReport:
    current = await _series(session, report, report.period, interval)
    result = RevenueReport(interval=interval, **current.model_dump())
    compared = report.compared
    if compared is not None:
        comparison = await _series(session, report, compared, interval)
        result.comparison = comparison
        result.change = metrics_change(current.totals, comparison.totals)
    return result


async def category_report(session: AsyncSession, report: ReportFilter) -> CategoryReport:
    current = await _metrics_by_key(session, by_category_statement(report, report.period))
    compared = report.compared
    previous = (
        await _metrics_by_key(session, by_category_statement(report, compared))
        if compared is not None
        else {}
    )
    totals = await _totals(session, report, report.period)
    names_query = select(Category.id, Category.name)
    if report.category_ids:
        names_query = names_query.where(Category.id.in_(report.category_ids))
    elif report.product_ids:
        names_query = names_query.where(Category.id.in_(list(current) or [-1]))
    names: dict[Any, str | None] = dict((await session.execute(names_query)).tuples().all())
    for deleted in set(current) - set(names):
        names[deleted] = None
    items = [
        CategoryRevenue(
            category_id=key,
            category_name=name,
            share=_ratio(current.get(key, EMPTY).net_revenue, totals.net_revenue),
            comparison=previous.get(key, EMPTY) if compared is not None else None,
            change=(
                metrics_change(current.get(key, EMPTY), previous.get(key, EMPTY))
                if compared is not None
                else None
            ),
            **current.get(key, EMPTY).model_dump(),
        )
        for key, name in names.items()
    ]
    items.sort(key=lambda item: (-item.net_revenue, item.category_id))
    return CategoryReport(
        start=report.period.start,
        end=report.period.end,
        comparison_period=Period(start=compared.start, end=compared.end) if compared else None,
        totals=totals,
        items=items,
    )


async def product_report(
    session: AsyncSession,
    report: ReportFilter,
    *,
    sort: ProductSort,
    order: SortOrder,
    limit: int,
) -> ProductReport:
    grouped = by_product_statement(report, report.period).subquery()
    net = grouped.c.revenue - grouped.c.refunds
    sort_expression = {
        ProductSort.net_revenue: func.coalesce(net, 0),
        ProductSort.units: func.coalesce(grouped.c.units_sold - grouped.c.units_refunded, 0),
        ProductSort.profit: func.coalesce(net - grouped.c.cost, 0),
    }[sort]
    ranked = (
        select(Product.id, Product.sku, Product.name, Product.category_id)
        .outerjoin(grouped, grouped.c.key == Product.id)
        # Products with no sales matter at the bottom of the list, but only live ones.
        .where(or_(Product.status == "active", grouped.c.key.is_not(None)))
        .order_by(
            sort_expression.desc() if order is SortOrder.desc else sort_expression.asc(),
            Product.id,
        )
        .limit(limit)
    )
    if report.product_ids:
        ranked = ranked.where(Product.id.in_(report.product_ids))
    if report.category_ids:
        ranked = ranked.where(
            or_(Product.category_id.in_(report.category_ids), grouped.c.key.is_not(None))
        )
    products = (await session.execute(ranked)).all()
    ids = tuple(row.id for row in products)
    scoped = replace(report, product_ids=ids or (-1,))
    current = await _metrics_by_key(session, by_product_statement(scoped, report.period))
    compared = report.compared
    previous = (
        await _metrics_by_key(session, by_product_statement(scoped, compared))
        if compared is not None
        else {}
    )
    totals = await _totals(session, report, report.period)
    items = [
        ProductRevenue(
            product_id=row.id,
            sku=row.sku,
            name=row.name,
            category_id=row.category_id,
            share=_ratio(current.get(row.id, EMPTY).net_revenue, totals.net_revenue),
            comparison=previous.get(row.id, EMPTY) if compared is not None else None,
            change=(
                metrics_change(current.get(row.id, EMPTY), previous.get(row.id, EMPTY))
                if compared is not None
                else None
            ),
            **current.get(row.id, EMPTY).model_dump(),
        )
        for row in products
    ]
    return ProductReport(
        start=report.period.start,
        end=report.period.end,
        comparison_period=Period(start=compared.start, end=compared.end) if compared else None,
        sort=sort,
        order=order,
        totals=totals,
        items=items,
    )


def _card(current: Decimal | int | None, previous: Decimal | int | None) -> Card:
    return Card(
        value=None if current is None else Decimal(current),
        previous=None if previous is None else Decimal(previous),
        change=change_between(current, previous),
    )


def _average(metrics: Metrics) -> Decimal | None:
    if metrics.sales_count == 0:
        return None
    return (metrics.net_revenue / metrics.sales_count).quantize(CENT)


async def _leader(
    session: AsyncSession, statement: Select[Any], model: type[Product] | type[Category]
) -> Leader | None:
    """The key with the highest net revenue (lowest id on a tie); none when nothing sold."""
    found = await _metrics_by_key(session, statement)
    ranked = sorted(found.items(), key=lambda item: (-item[1].net_revenue, item[0]))
    if not ranked or ranked[0][1].net_revenue <= 0:
        return None
    key, best = ranked[0]
    name = await session.scalar(select(model.name).where(model.id == key))
    return Leader(id=key, name=name, net_revenue=best.net_revenue)


async def summary(session: AsyncSession, report: ReportFilter) -> Summary:
    compared = report.compared or compared_range(Compare.previous_period, report.period)
    assert compared is not None
    current = await _totals(session, report, report.period)
    previous = await _totals(session, report, compared)
    return Summary(
        start=report.period.start,
        end=report.period.end,
        previous_start=compared.start,
        previous_end=compared.end,
        net_revenue=_card(current.net_revenue, previous.net_revenue),
        units=_card(current.units, previous.units),
        sales_count=_card(current.sales_count, previous.sales_count),
        average_sale_value=_card(_average(current), _average(previous)),
        profit=_card(current.profit, previous.profit),
        margin=_card(current.margin, previous.margin),
        best_product=await _leader(session, by_product_statement(report, report.period), Product),
        best_category=await _leader(
            session, by_category_statement(report, report.period), Category
        ),
    )
