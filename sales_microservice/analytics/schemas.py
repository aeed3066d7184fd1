from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from common.db.dialect import Interval
from common.schemas import Schema
from common.schemas.fields import Day


class Metrics(Schema):
    revenue: Decimal = Field(description="Gross revenue of sales")
    refunds: Decimal = Field(description="Revenue given back by refunds (positive)")
    net_revenue: Decimal = Field(description="revenue - refunds")
    cost: Decimal = Field(description="Cost of goods sold, net of goods returned")
    profit: Decimal = Field(description="net_revenue - cost")
    margin: Decimal | None = Field(description="profit / net_revenue in percent; null at zero")
    units: int = Field(description="Units sold minus units refunded")
    sales_count: int = Field(description="Number of sale transactions (refunds excluded)")


class BucketMetrics(Metrics):
    start: date
    end: date


class Change(Schema):
    absolute: Decimal
    percentage: Decimal | None = Field(description="Relative change in percent; null from zero")


class MetricsChange(Schema):
    revenue: Change
    refunds: Change
    net_revenue: Change
    cost: Change
    profit: Change
    margin: Change = Field(description="`absolute` in percentage points")
    units: Change
    sales_count: Change


class RevenueSeries(Schema):
    start: date
    end: date
    totals: Metrics
    buckets: list[BucketMetrics]


def _metrics(revenue: str, refunds: str, cost: str, units: int, sales: int) -> JsonDict:
    """Consistent figures for the examples: net, profit and margin follow from the others."""
    net = Decimal(revenue) - Decimal(refunds)
    profit = net - Decimal(cost)
    margin = (profit * 100 / net).quantize(Decimal("0.01")) if net else None
    return {
        "revenue": revenue,
        "refunds": refunds,
        "net_revenue": str(net),
        "cost": cost,
        "profit": str(profit),
        "margin": None if margin is None else str(margin),
        "units": units,
        "sales_count": sales,
    }


class RevenueReport(RevenueSeries):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-03-01",
                    "end": "2026-03-02",
                    "interval": "day",
                    "totals": _metrics("62.40", "12.50", "16.80", 4, 3),
                    "buckets": [
                        {
                            "start": "2026-03-01",
                            "end": "2026-03-01",
                            **_metrics("37.50", "12.50", "8.40", 2, 2),
                        },
                        {
                            "start": "2026-03-02",
                            "end": "2026-03-02",
                            **_metrics("24.90", "0.00", "8.40", 2, 1),
                        },
                    ],
                    "comparison": None,
                    "change": None,
                }
            ]
        }
    )

    interval: Interval
    comparison: RevenueSeries | None = None
    change: MetricsChange | None = None


class Period(Schema):
    start: date
    end: date


class CategoryRevenue(Metrics):
    category_id: int
    category_name: str | None = Field(description="Null when the category has been deleted")
    share: Decimal | None = Field(description="Percent of the total net revenue")
    comparison: Metrics | None = None
    change: MetricsChange | None = None


class CategoryReport(Schema):
    start: date
    end: date
    comparison_period: Period | None = None
    totals: Metrics
    items: list[CategoryRevenue]


class ProductSort(StrEnum):
    net_revenue = "net_revenue"
    units = "units"
    profit = "profit"


class SortOrder(StrEnum):
    desc = "desc"
    asc = "asc"


class ProductRevenue(Metrics):
    product_id: int
    sku: str
    name: str
    category_id: int | None
    share: Decimal | None
    comparison: Metrics | None = None
    change: MetricsChange | None = None


class ProductReport(Schema):
    start: date
    end: date
    comparison_period: Period | None = None
    sort: ProductSort
    order: SortOrder
    totals: Metrics
    items: list[ProductRevenue]


class Card(Schema):
    value: Decimal | None
    previous: Decimal | None
    change: Change


class Leader(Schema):
    id: int
    name: str | None
    net_revenue: Decimal


class Summary(Schema):
    start: date
    end: date
    previous_start: date
    previous_end: date
    net_revenue: Card
    units: Card
    sales_count: Card
    average_sale_value: Card
    profit: Card
    margin: Card
    best_product: Leader | None
    best_category: Leader | None


class RollupMismatchRead(Schema):
    business_date: date
    scope: Literal["product", "category"]
    id: int = Field(description="The product's id, or the category's")
    field: str = Field(description="The rollup column that differs")
    rollup: Decimal = Field(description="What the rollup holds")
    raw: Decimal = Field(description="What the `sale` rows add up to")


class LedgerCheck(Schema):
    products_checked: int
    stock_mismatches: int = Field(
        description="Cached levels that differ from their movements, and broken chains"
    )
    rating_mismatches: int = Field(description="Rating counters that differ from the reviews")


class ConsistencyReport(Schema):
    start: date
    end: date
    ok: bool = Field(description="No mismatch of any kind")
    days_checked: int
    mismatches: list[RollupMismatchRead] = Field(description="The first 1,000 differences")
    mismatch_count: int = Field(description="Every difference found")
    ledger: LedgerCheck
    last_sale_at: datetime | None = Field(description="The newest sale recorded, if any")


class RollupRebuild(Schema):
    start: Day
    end: Day = Field(description="Inclusive")


class RollupRebuildResult(Schema):
    start: date
    end: date
    days: int = Field(description="Store days rewritten, each in its own transaction")
    product_rows: int = Field(description="`sales_daily` rows written")
    category_rows: int = Field(description="`sales_daily_category` rows written")
