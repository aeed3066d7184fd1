"""`/api/v1/analytics`: revenue reports for the dashboard, as JSON or CSV (admins only)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from common.calendar import Compare, DateRange
from common.db.dialect import Interval
from common.exports.http import CSV_RESPONSE
from common.identity.access import AdminUser
from common.schemas.fields import Day, Id
from common.web import (
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    UnitOfWorkDep,
    problem_responses,
)
from sales_microservice.analytics import customers, export, orders, rollups, service
from sales_microservice.analytics.schemas import (
    CategoryReport,
    CohortPeriod,
    CohortReport,
    ConsistencyReport,
    CustomersReport,
    OrdersReport,
    ProductReport,
    ProductSort,
    RevenueReport,
    RollupRebuild,
    RollupRebuildResult,
    SortOrder,
    Summary,
    TopCustomers,
    TopCustomerSort,
)
from sales_microservice.analytics.service import ReportFilter

router = APIRouter(prefix="/analytics", tags=["analytics"])
DEFAULT_DAYS = 30
MAX_IDS = 100
RESPONSES = {**problem_responses(401, 403, 422), **CSV_RESPONSE}

# Ids are INT columns: a larger number can match nothing, and overflows the driver.
IdList = Annotated[list[Id], Query(max_length=MAX_IDS)]


StartDay = Annotated[Day | None, Query(description="First day, store time (default: 30 days ago)")]
EndDay = Annotated[Day | None, Query(description="Last day, inclusive (default: today)")]


async def period_filter(
    settings: SettingsDep,
    start: StartDay = None,
    end: EndDay = None,
    compare: Compare = Compare.none,
) -> ReportFilter:
    """The store days of a report that takes no product or category filter."""
    today = datetime.now(settings.timezone).date()
    end = end or (today if start is None else max(start, today))
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    return ReportFilter(period=DateRange(start, end), compare=compare)


async def report_filter(
    period: Annotated[ReportFilter, Depends(period_filter)],
    product_id: IdList = [],  # noqa: B006  (FastAPI copies defaults per request)
    category_id: IdList = [],  # noqa: B006
) -> ReportFilter:
    return replace(
        period,
        product_ids=tuple(sorted(set(product_id))),
        category_ids=tuple(sorted(set(category_id))),
    )


FilterDep = Annotated[ReportFilter, Depends(report_filter)]
PeriodDep = Annotated[ReportFilter, Depends(period_filter)]


@router.get(
    "/revenue",
    response_model=RevenueReport,
    summary="Revenue, refunds, cost, profit and units by day, week or month",
    responses={**RESPONSES, **export.csv_responses(RevenueReport)},
)
async def revenue(
    request: Request,
    _admin: AdminUser,
    session: ReadSessionDep,
    report: FilterDep,
    interval: Interval = "day",
) -> RevenueReport | Response:
    """Revenue, refunds, cost, profit and units per bucket, every bucket present."""
    await service.check_filter(session, report, interval=interval)
    result = await service.revenue_report(session, report, interval=interval)
    return export.negotiate(
        request, result, filename=f"revenue-{interval}-{report.period.start}.csv"
    )


@router.get("/revenue/by-category", response_model=CategoryReport, responses=RESPONSES)
async def revenue_by_category(
    request: Request, _admin: AdminUser, session: ReadSessionDep, report: FilterDep
) -> CategoryReport | Response:
    """One row per category with its share of net revenue, best first."""
    await service.check_filter(session, report)
    result = await service.category_report(session, report)
    return export.negotiate(
        request, result, filename=f"revenue-by-category-{report.period.start}.csv"
    )


@router.get("/revenue/by-product", response_model=ProductReport, responses=RESPONSES)
async def revenue_by_product(
    request: Request,
    _admin: AdminUser,
    session: ReadSessionDep,
    report: FilterDep,
    sort: ProductSort = ProductSort.net_revenue,
    order: SortOrder = SortOrder.desc,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> ProductReport | Response:
    """Top products by net revenue, units or profit (`order=asc` for the bottom ones)."""
    await service.check_filter(session, report)
    result = await service.product_report(session, report, sort=sort, order=order, limit=limit)
    return export.negotiate(
        request, result, filename=f"revenue-by-product-{report.period.start}.csv"
    )


@router.get("/summary", response_model=Summary, responses=RESPONSES)
async def summary(
    request: Request, _admin: AdminUser, session: ReadSessionDep, report: FilterDep
) -> Summary | Response:
    """The dashboard's headline cards, each with its change from the previous period."""
    await service.check_filter(session, report)
    result = await service.summary(session, report)
    return export.negotiate(request, result, filename=f"summary-{report.period.start}.csv")


@router.get(
    "/orders",
    response_model=OrdersReport,
    summary="Orders placed, paid, cancelled and refunded per bucket, with AOV and rates",
    responses=RESPONSES,
)
async def orders_report(
    request: Request,
    _admin: AdminUser,
    session: ReadSessionDep,
    report: PeriodDep,
    interval: Interval = "day",
) -> OrdersReport | Response:
    """Each order counts on the store day it was placed, paid, cancelled or refunded (orders
    only: sales recorded directly are not orders). Every bucket present."""
    await service.check_filter(session, report, interval=interval)
    result = await orders.orders_report(session, report, interval=interval)
    return export.negotiate(
        request, result, filename=f"orders-{interval}-{report.period.start}.csv"
    )


@router.get(
    "/customers",
    response_model=CustomersReport,
    summary="New, returning and active customers per bucket, with the repeat rate",
    responses=RESPONSES,
)
async def customers_report(
    request: Request,
    _admin: AdminUser,
    session: ReadSessionDep,
    report: PeriodDep,
    interval: Interval = "day",
) -> CustomersReport | Response:
    """A customer is new in the bucket of their first paid order, returning in a bucket
    where they pay and had paid before it, active if they paid in it."""
    await service.check_filter(session, report, interval=interval)
    result = await customers.customers_report(session, report, interval=interval)
    return export.negotiate(
        request, result, filename=f"customers-{interval}-{report.period.start}.csv"
    )


@router.get(
    "/customers/top",
    response_model=TopCustomers,
    summary="The best customers of a range: by net spend, orders or average order value",
    responses=RESPONSES,
)
async def top_customers(
    request: Request,
    _admin: AdminUser,
    session: ReadSessionDep,
    settings: SettingsDep,
    report: PeriodDep,
    sort: TopCustomerSort = TopCustomerSort.net_spend,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> TopCustomers | Response:
    """Orders paid in the range (refunded ones included), net of their refunds."""
    await service.check_filter(session, report)
    result = await customers.top_customers(
        session, report, sort=sort, limit=limit, timezone=settings.timezone
    )
    return export.negotiate(request, result, filename=f"top-customers-{report.period.start}.csv")


@router.get(
    "/cohorts",
    response_model=CohortReport,
    summary="Retention of the customers by the month or ISO week of their first paid order",
    responses=RESPONSES,
)
async def cohort_report(
    request: Request,
    _admin: AdminUser,
    session: ReadSessionDep,
    report: PeriodDep,
    period: CohortPeriod = CohortPeriod.month,
) -> CohortReport | Response:
    """Cohorts whose first paid order falls between `start` and `end`, followed up to the
    period of `end`; at most 104 periods (422 `too_many_buckets`). `compare` is ignored."""
    await service.check_filter(session, report, interval=period.value)
    result = await customers.cohort_report(session, report, period=period)
    return export.negotiate(request, result, filename=f"cohorts-{period}-{report.period.start}.csv")


@router.get(
    "/consistency",
    response_model=ConsistencyReport,
    summary="Check the rollups against the raw sales, and the stock and rating ledgers",
    description=(
        "Recomputes both sales rollups (per day x product and per day x category) from the "
        "`sale` rows of store days `start`..`end`, and both order rollups (per day, per day x "
        "customer) from the orders, and lists every field that differs; also reconciles every "
        "cached stock level with its movements, the rating counters with the reviews and the "
        "accounts' lifetime order figures with their orders. At most 366 days."
    ),
    responses=problem_responses(401, 403, 422),
)
async def check_consistency(
    _admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    start: Annotated[Day, Query(description="First store day")],
    end: Annotated[Day, Query(description="Last store day, inclusive")],
) -> ConsistencyReport:
    return await rollups.consistency(session, start=start, end=end, timezone=settings.timezone)


@router.post(
    "/rollups/rebuild",
    response_model=RollupRebuildResult,
    summary="Rewrite the rollups of a range of store days from the raw sales",
    description=(
        "One store day per transaction: the day's sales are locked, its rollup rows deleted "
        "and written again from `sale`; then, in a transaction of its own, the day's order "
        "rollups from the orders (placements, payments, cancellations and refunds of the day "
        "held off meanwhile). Whatever is recorded meanwhile waits for the day and is counted "
        "exactly once. Last, every account's lifetime order figures, a locked batch at a "
        "time. At most 366 days; idempotent."
    ),
    responses=problem_responses(401, 403, 422),
)
async def rebuild_rollups(
    _admin: AdminUser, unit_of_work: UnitOfWorkDep, settings: SettingsDep, body: RollupRebuild
) -> RollupRebuildResult:
    return await rollups.rebuild(
        unit_of_work, start=body.start, end=body.end, timezone=settings.timezone
    )
