"""The one way an analytics report becomes CSV: flat rows per report, written by `common.exports`.

A route answers with the report itself, or with its CSV rows when the client sends
`Accept: text/csv`; which rows a report has is decided here only.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import Request
from starlette.responses import Response

from common.exports.files import CSV_MEDIA_TYPE, csv_text, mapping_rows
from common.exports.http import CSV_RESPONSE, csv_response, wants_csv
from sales_microservice.analytics.customers import CUSTOMER_METRIC_NAMES
from sales_microservice.analytics.orders import ORDER_METRIC_NAMES
from sales_microservice.analytics.schemas import (
    BucketMetrics,
    CategoryReport,
    CategoryRevenue,
    CohortReport,
    CustomerBucket,
    CustomerMetrics,
    CustomersReport,
    Metrics,
    MetricsChange,
    OrderBucket,
    OrderMetrics,
    OrdersReport,
    ProductReport,
    ProductRevenue,
    RevenueReport,
    Summary,
    TopCustomers,
)
from sales_microservice.analytics.service import METRIC_NAMES

Report = TypeVar(
    "Report",
    RevenueReport,
    CategoryReport,
    ProductReport,
    Summary,
    OrdersReport,
    CustomersReport,
    TopCustomers,
    CohortReport,
)
SUMMARY_CARDS = ("net_revenue", "units", "sales_count", "average_sale_value", "profit", "margin")


def negotiate(request: Request, report: Report, *, filename: str) -> Report | Response:
    """The report as JSON, or as a CSV attachment named `filename` when the client asks."""
    if not wants_csv(request):
        return report
    return csv_response(report_rows(report), filename=filename)


def csv_responses(report: type[Report]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the CSV form of `report`, with its documented example as CSV (what
    `negotiate` would send for it)."""
    example = report.model_validate(report.model_json_schema()["examples"][0])
    columns, values = mapping_rows(report_rows(example))
    media = {"schema": {"type": "string"}, "example": csv_text(columns, values)}
    return {200: {**CSV_RESPONSE[200], "content": {CSV_MEDIA_TYPE: media}}}


def report_rows(
    report: RevenueReport
    | CategoryReport
    | ProductReport
    | Summary
    | OrdersReport
    | CustomersReport
    | TopCustomers
    | CohortReport,
) -> list[dict[str, Any]]:
    """The CSV rows of a report: one per bucket, ranked item, cohort or headline card."""
    if isinstance(report, RevenueReport | OrdersReport | CustomersReport):
        return _bucket_rows(report)
    if isinstance(report, TopCustomers):
        return [item.model_dump() for item in report.items]
    if isinstance(report, CohortReport):
        # One column per period after the cohort's own, as wide as the oldest cohort.
        return [
            {"cohort": c.cohort, "start": c.start, "customers": c.customers}
            | {
                f"period_{k}": c.retention[k] if k < len(c.retention) else None
                for k in range(width)
            }
            for width in [max((len(c.retention) for c in report.cohorts), default=0)]
            for c in report.cohorts
        ]
    if isinstance(report, CategoryReport):
        return [
            _ranked_row(item, category_id=item.category_id, category_name=item.category_name)
            for item in report.items
        ]
    if isinstance(report, ProductReport):
        return [
            _ranked_row(
                item,
                product_id=item.product_id,
                sku=item.sku,
                name=item.name,
                category_id=item.category_id,
            )
            for item in report.items
        ]
    return _card_rows(report)


def _flat(
    metrics: Metrics | OrderMetrics | CustomerMetrics | None, prefix: str = ""
) -> dict[str, Any]:
    if metrics is None:
        return {}
    names = {OrderMetrics: ORDER_METRIC_NAMES, CustomerMetrics: CUSTOMER_METRIC_NAMES}
    chosen = next((n for kind, n in names.items() if isinstance(metrics, kind)), METRIC_NAMES)
    return {prefix + name: getattr(metrics, name) for name in chosen}


def _flat_change(change: MetricsChange | None) -> dict[str, Decimal | None]:
    if change is None:
        return {}
    flat: dict[str, Decimal | None] = {}
    for name in METRIC_NAMES:
        item = getattr(change, name)
        flat[f"change_{name}"] = item.absolute
        flat[f"change_{name}_pct"] = item.percentage
    return flat


def _bucket_rows(
    report: RevenueReport | OrdersReport | CustomersReport,
) -> list[dict[str, Any]]:
    """A row per bucket, with the matching bucket of the comparison period beside it."""
    current: Sequence[BucketMetrics | OrderBucket | CustomerBucket] = report.buckets
    previous: Sequence[BucketMetrics | OrderBucket | CustomerBucket] = (
        report.comparison.buckets if report.comparison else []
    )
    rows = []
    for index, bucket in enumerate(current):
        row: dict[str, Any] = {"start": bucket.start, "end": bucket.end, **_flat(bucket)}
        if index < len(previous):
            row |= {"previous_start": previous[index].start, "previous_end": previous[index].end}
            row |= _flat(previous[index], "previous_")
        rows.append(row)
    return rows


def _ranked_row(item: CategoryRevenue | ProductRevenue, **identity: Any) -> dict[str, Any]:
    """A row of a ranked report: who, the metrics, the share, then the comparison."""
    return {
        **identity,
        **_flat(item),
        "share": item.share,
        **_flat(item.comparison, "previous_"),
        **_flat_change(item.change),
    }


def _card_rows(summary: Summary) -> list[dict[str, Any]]:
    rows = []
    for name in SUMMARY_CARDS:
        card = getattr(summary, name)
        rows.append(
            {
                "metric": name,
                "value": card.value,
                "previous": card.previous,
                "change": card.change.absolute,
                "change_pct": card.change.percentage,
            }
        )
    return rows
