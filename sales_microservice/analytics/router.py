"""`/api/v1/analytics`: revenue reports for the dashboard, as JSON or CSV (admins only)."""

from __future__ import annotations

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
from sales_microservice.analytics import export, rollups, service
from sales_microservice.analytics.schemas import (
    CategoryReport,
    ConsistencyReport,
    ProductReport,
    ProductSort,
    RevenueReport,
    RollupRebuild,
    RollupRebuildResult,
    SortOrder,
    Summary,
)
from sales_microservice.analytics.service import ReportFilter

router = APIRouter(prefix="/analytics", tags=["analytics"])
DEFAULT_DAYS = 30
MAX_IDS = 100
RESPONSES = {**problem_responses(401, 403, 422), **CSV_RESPONSE}

# Ids are INT columns: a larger number can match nothing, and overflows the driver.
IdList = Annotated[list[Id], Query(max_length=MAX_IDS)]


async def report_filter(
    settings: SettingsDep,
    start: Annotated[
        Day | None, Query(description="First day, store time (default: 30 days ago)")
    ] = None,
    end: Annotated[Day | None, Query(description="Last day, inclusive (default: today)")] = None,
    product_id: IdList = [],  # noqa: B006  (FastAPI copies defaults per request)
    category_id: IdList = [],  # noqa: B006
    compare: Compare = Compare.none,
) -> ReportFilter:
    today = datetime.now(settings.timezone).date()
    end = end or (today if start is None else max(start, today))
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    return ReportFilter(
        period=DateRange(start, end),
        product_ids=tuple(sorted(set(product_id))),
        category_ids=tuple(sorted(set(category_id))),
        compare=compare,
    )


FilterDep = Annotated[ReportFilter, Depends(report_filter)]


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
    "/consistency",
    response_model=ConsistencyReport,
    summary="Check the rollups against the raw sales, and the stock and rating ledgers",
    description=(
        "Recomputes both sales rollups (per day x product and per day x category) from the "
        "`sale` rows of store days `start`..`end` and lists every field that differs; also "
        "reconciles every cached stock level with its movements and the rating counters with "
        "the reviews. At most 366 days."
    ),
    responses=problem_responses(401, 403, 422),
)
async def check_consistency(
    _admin: AdminUser,
    session: SessionDep,
    start: Annotated[Day, Query(description="First store day")],
    end: Annotated[Day, Query(description="Last store day, inclusive")],
) -> ConsistencyReport:
    return await rollups.consistency(session, start=start, end=end)


@router.post(
    "/rollups/rebuild",
    response_model=RollupRebuildResult,
    summary="Rewrite the rollups of a range of store days from the raw sales",
    description=(
        "One store day per transaction: the day's sales are locked, its rollup rows deleted "
        "and written again from `sale`. Sales recorded meanwhile wait for the day and are "
        "counted exactly once. At most 366 days; idempotent."
    ),
    responses=problem_responses(401, 403, 422),
)
async def rebuild_rollups(
    _admin: AdminUser, unit_of_work: UnitOfWorkDep, body: RollupRebuild
) -> RollupRebuildResult:
    return await rollups.rebuild(unit_of_work, start=body.start, end=body.end)
