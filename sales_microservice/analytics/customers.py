"""Who buys and how often: the customers, top customers and cohort reports, read from the
`customer_daily` rollup and the accounts' `first_paid_date` (never by scanning orders).

A customer is *active* in a bucket when they paid in it, *new* in the bucket of their first
paid order, and *returning* when active and their first payment came before the bucket: so
returning = active - new. Refunds do not undo a payment here (a refunded order was paid);
`net_spend` in the top customers is net of them.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, literal_column, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from common.calendar import (
    DateRange,
    bucket_count,
    bucket_start,
    buckets,
    local_midnight,
    next_bucket,
)
from common.db.dialect import Interval, date_bucket
from common.db.types import Money, UTCDateTime
from common.models.identity import UserAccount
from common.models.orders import CustomerDaily, CustomerOrder
from sales_microservice.analytics.orders import RATE
from sales_microservice.analytics.schemas import (
    Cohort,
    CohortPeriod,
    CohortReport,
    CustomerBucket,
    CustomerMetrics,
    CustomerMetricsChange,
    CustomerSeries,
    CustomersReport,
    TopCustomer,
    TopCustomers,
    TopCustomerSort,
)
from sales_microservice.analytics.service import (
    CENT,
    ReportFilter,
    TooManyBuckets,
    change_of,
)

CUSTOMER_METRIC_NAMES = tuple(CustomerMetrics.model_fields)
# Cohorts by periods followed: the report is a triangle, so this bounds it at ~5,500 shares.
MAX_COHORT_PERIODS = 104


def customer_metrics(*, new: int, active: int) -> CustomerMetrics:
    returning = active - new
    return CustomerMetrics(
        new_customers=new,
        returning_customers=returning,
        active_customers=active,
        repeat_rate=(Decimal(returning) / active).quantize(RATE) if active else None,
    )


def _paid_in(period: DateRange) -> list[ColumnElement[bool]]:
    d = CustomerDaily
    return [d.business_date >= period.start, d.business_date <= period.end, d.orders_paid > 0]


def active_statement(period: DateRange, interval: Interval | None) -> Select[Any]:
    """Distinct paying customers per bucket (or over the whole range)."""
    d = CustomerDaily
    key = date_bucket(interval, d.business_date) if interval else literal_column("1")
    count = func.count(func.distinct(d.customer_id)).label("tally")
    statement = select(key.label("key"), count).where(*_paid_in(period))
    return statement.group_by(key) if interval else statement


def new_statement(period: DateRange, interval: Interval | None) -> Select[Any]:
    """Accounts whose first paid order falls in each bucket (or in the range)."""
    first = UserAccount.first_paid_date
    key = date_bucket(interval, first) if interval else literal_column("1")
    statement = select(key.label("key"), func.count().label("tally")).where(
        first >= period.start, first <= period.end
    )
    return statement.group_by(key) if interval else statement


async def _counts(session: AsyncSession, statement: Select[Any]) -> dict[Any, int]:
    return {row.key: int(row.tally) for row in await session.execute(statement)}


async def _series(session: AsyncSession, period: DateRange, interval: Interval) -> CustomerSeries:
    active = await _counts(session, active_statement(period, interval))
    new = await _counts(session, new_statement(period, interval))
    total_active = await _counts(session, active_statement(period, None))
    total_new = await _counts(session, new_statement(period, None))
    return CustomerSeries(
        start=period.start,
        end=period.end,
        totals=customer_metrics(
            new=next(iter(total_new.values()), 0), active=next(iter(total_active.values()), 0)
        ),
        buckets=[
            CustomerBucket(
                start=bucket.start,
                end=bucket.end,
                **customer_metrics(
                    new=new.get(bucket.key, 0), active=active.get(bucket.key, 0)
                ).model_dump(),
            )
            for bucket in buckets(interval, period)
        ],
    )


async def customers_report(
    session: AsyncSession, report: ReportFilter, *, interval: Interval
) -> CustomersReport:
    current = await _series(session, report.period, interval)
    result = CustomersReport(interval=interval, **current.model_dump())
    compared = report.compared
    if compared is not None:
        comparison = await _series(session, compared, interval)
        result.comparison = comparison
        result.change = change_of(current.totals, comparison.totals, CustomerMetricsChange)
    return result


# --- top customers ------------------------------------------------------------------------


async def top_customers(
    session: AsyncSession,
    report: ReportFilter,
    *,
    sort: TopCustomerSort,
    limit: int,
    timezone: ZoneInfo,
) -> TopCustomers:
    """The best customers by what they paid in the range net of those orders' refunds, by
    orders paid, or by average order value (ties: the lower id first)."""
    d = CustomerDaily
    orders = func.sum(d.orders_paid)
    net = func.sum(d.paid_spend - d.refunded_spend)
    sorts: dict[TopCustomerSort, ColumnElement[Any]] = {
        TopCustomerSort.net_spend: net,
        TopCustomerSort.orders: orders,
        TopCustomerSort.average_order_value: net / orders,
    }
    ranked_by = sorts[sort]
    ranked = (
        select(d.customer_id, orders.label("orders"), type_coerce(net, Money()).label("net"))
        .where(*_paid_in(report.period))
        .group_by(d.customer_id)
        .order_by(ranked_by.desc(), d.customer_id)
        .limit(limit)
    )
    rows = (await session.execute(ranked)).all()
    ids = [row.customer_id for row in rows]
    since = local_midnight(report.period.start, timezone)
    until = local_midnight(report.period.end + timedelta(days=1), timezone)
    o = CustomerOrder
    span = {
        row.customer_id: row
        for row in await session.execute(
            select(
                o.customer_id,
                type_coerce(func.min(o.created_at), UTCDateTime()).label("first"),
                type_coerce(func.max(o.created_at), UTCDateTime()).label("last"),
            )
            .where(o.customer_id.in_(ids), o.paid_at >= since, o.paid_at < until)
            .group_by(o.customer_id)
        )
    }
    people = {
        row.id: row
        for row in await session.execute(
            select(UserAccount.id, UserAccount.full_name, UserAccount.email).where(
                UserAccount.id.in_(ids)
            )
        )
    }
    return TopCustomers(
        start=report.period.start,
        end=report.period.end,
        sort=sort,
        items=[
            TopCustomer(
                customer_id=row.customer_id,
                full_name=people[row.customer_id].full_name,
                email=people[row.customer_id].email,
                orders=int(row.orders),
                net_spend=row.net,
                average_order_value=(row.net / int(row.orders)).quantize(CENT),
                first_order_at=span[row.customer_id].first,
                last_order_at=span[row.customer_id].last,
            )
            for row in rows
        ],
    )


# --- cohorts ------------------------------------------------------------------------------


def cohort_label(period: CohortPeriod, start: date) -> str:
    if period is CohortPeriod.month:
        return f"{start.year:04d}-{start.month:02d}"
    year, week, _ = start.isocalendar()
    return f"{year:04d}-W{week:02d}"


def _periods_between(period: CohortPeriod, first: date, later: date) -> int:
    if period is CohortPeriod.week:
        return (later - first).days // 7
    return (later.year - first.year) * 12 + later.month - first.month


async def cohort_report(
    session: AsyncSession, report: ReportFilter, *, period: CohortPeriod
) -> CohortReport:
    """Cohorts of the customers whose first paid order falls in the range, each followed up
    to the period of `end`: one grouped read of their paying days."""
    interval: Interval = "month" if period is CohortPeriod.month else "week"
    count = bucket_count(interval, report.period)
    if count > MAX_COHORT_PERIODS:
        raise TooManyBuckets(
            f"{count} {interval} cohorts requested; at most {MAX_COHORT_PERIODS} per report",
            buckets=count,
            max_buckets=MAX_COHORT_PERIODS,
        )
    start = bucket_start(interval, report.period.start)
    end = report.period.end
    a, d = UserAccount, CustomerDaily
    cohort_key = date_bucket(interval, a.first_paid_date).label("cohort")
    active_key = date_bucket(interval, d.business_date).label("active")
    in_range = [a.first_paid_date >= report.period.start, a.first_paid_date <= end]
    sizes = {
        row.cohort: int(row.tally)
        for row in await session.execute(
            select(cohort_key, func.count().label("tally")).where(*in_range).group_by(cohort_key)
        )
    }
    active: dict[date, dict[int, int]] = {}
    rows = await session.execute(
        select(cohort_key, active_key, func.count(func.distinct(d.customer_id)).label("tally"))
        .join(a, a.id == d.customer_id)
        .where(*in_range, d.business_date <= end, d.orders_paid > 0)
        .group_by(cohort_key, active_key)
    )
    for row in rows:
        offset = _periods_between(period, row.cohort, row.active)
        active.setdefault(row.cohort, {})[offset] = int(row.tally)
    cohorts = []
    key = start
    while key <= end:
        size = sizes.get(key, 0)
        if size:
            reached = _periods_between(period, key, end) + 1
            cohorts.append(
                Cohort(
                    cohort=cohort_label(period, key),
                    start=key,
                    customers=size,
                    retention=[
                        (Decimal(active.get(key, {}).get(k, 0)) / size).quantize(RATE)
                        for k in range(reached)
                    ],
                )
            )
        key = next_bucket(interval, key)
    return CohortReport(period=period, start=report.period.start, end=end, cohorts=cohorts)
