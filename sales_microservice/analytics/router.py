from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from common.calendar import Compare, DateRange
from common.db.dialect import Interval
from common.identity.access import RequireAdmin
from common.schemas.fields import Day, Id
from common.web import ReadSessionDep, SettingsDep, problem_responses
from common.web.csv import CSV_RESPONSE, csv_response, wants_csv
from sales_microservice.analytics import service
from sales_microservice.analytics.schemas import (
    CategoryReport,
    CategoryRevenue,
    Metrics,
    MetricsChange,
    ProductReport,
    ProductRevenue,
    ProductSort,
    RevenueReport,
    SortOrder,
    Summary,
)
from sales_microservice.analytics.service import ReportFilter

router = APIRouter(
    prefix="/analytics",
    tags=["analytics"],
    dependencies=[RequireAdmin],
    responses=problem_responses(401, 403),
)
DEFAULT_DAYS = 30
MAX_IDS = 100
RESPONSES = {**problem_responses(422), **CSV_RESPONSE}

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


def _flat(metrics: Metrics | None, prefix: str = "") -> dict[str, Any]:
    if metrics is None:
        return {}
    return {prefix + name: getattr(metrics, name) for name in service.METRIC_NAMES}


def _flat_change(change: MetricsChange | None) -> dict[str, Decimal | None]:
    if change is None:
        return {}
    flat: dict[str, Decimal | None] = {}
    for name in service.METRIC_NAMES:
        item = getattr(change, name)
        flat[f"change_{name}"] = item.absolute
        flat[f"change_{name}_pct"] = item.percentage
    return flat


def _ranked_row(item: CategoryRevenue | ProductRevenue, **identity: Any) -> dict[str, Any]:
    """A CSV row of a ranked report: who, the metrics, the share, then the comparison."""
    return {
        **identity,
        **_flat(item),
        "share": item.share,
        **_flat(item.comparison, "previous_"),
        **_flat_change(item.change),
    }


@router.get("/revenue", response_model=RevenueReport, responses=RESPONSES)
async def revenue(
    request: Request,
    session: ReadSessionDep,
    report: FilterDep,
    interval: Interval = "day",
) -> RevenueReport | Response:
    """Revenue, refunds, cost, profit and units per bucket, every bucket present."""
    await service.check_filter(session, report, interval=interval)
    result = await service.revenue_report(session, report, interval=interval)
    if not wants_csv(request):
        return result
    previous = result.comparison.buckets if result.comparison else []
    rows = []
    for index, bucket in enumerate(result.buckets):
        row: dict[str, Any] = {"start": bucket.start, "end": bucket.end, **_flat(bucket)}
        if index < len(previous):
            row |= {"previous_start": previous[index].start, "previous_end": previous[index].end}
            row |= _flat(previous[index], "previous_")
        rows.append(row)
    return csv_response(rows, filename=f"revenue-{interval}-{report.period.start}.csv")


@router.get("/revenue/by-category", response_model=CategoryReport, responses=RESPONSES)
async def revenue_by_category(
    request: Request, session: ReadSessionDep, report: FilterDep
) -> CategoryReport | Response:
    """One row per category with its share of net revenue, best first."""
    await service.check_filter(session, report)
    result = await service.category_report(session, report)
    if not wants_csv(request):
        return result
    rows = [
        _ranked_row(item, category_id=item.category_id, category_name=item.category_name)
        for item in result.items
    ]
    return csv_response(rows, filename=f"revenue-by-category-{report.period.start}.csv")


@router.get("/revenue/by-product", response_model=ProductReport, responses=RESPONSES)
async def revenue_by_product(
    request: Request,
    session: ReadSessionDep,
    report: FilterDep,
    sort: ProductSort = ProductSort.net_revenue,
    order: SortOrder = SortOrder.desc,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> ProductReport | Response:
    """Top products by net revenue, units or profit (`order=asc` for the bottom ones)."""
    await service.check_filter(session, report)
    result = await service.product_report(session, report, sort=sort, order=order, limit=limit)
    if not wants_csv(request):
        return result
    rows = [
        _ranked_row(
            item,
            product_id=item.product_id,
            sku=item.sku,
            name=item.name,
            category_id=item.category_id,
        )
        for item in result.items
    ]
    return csv_response(rows, filename=f"revenue-by-product-{report.period.start}.csv")


@router.get("/summary", response_model=Summary, responses=RESPONSES)
async def summary(
    request: Request, session: ReadSessionDep, report: FilterDep
) -> Summary | Response:
    """The dashboard's headline cards, each with its change from the previous period."""
    await service.check_filter(session, report)
    result = await service.summary(session, report)
    if not wants_csv(request):
        return result
    rows = []
    for name in ("net_revenue", "units", "sales_count", "average_sale_value", "profit", "margin"):
        card = getattr(result, name)
        rows.append(
            {
                "metric": name,
                "value": card.value,
                "previous": card.previous,
                "change": card.change.absolute,
                "change_pct": card.change.percentage,
            }
        )
    return csv_response(rows, filename=f"summary-{report.period.start}.csv")
