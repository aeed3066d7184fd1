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
    scope: Literal["product", "category", "orders", "customer"] = Field(
        description="`product` / `category`: a sales rollup row; `orders`: the day's "
        "`order_daily` row; `customer`: a customer's day in `customer_daily`"
    )
    id: int = Field(description="The product's, category's or customer's id; 0 for `orders`")
    field: str = Field(description="The rollup column that differs")
    rollup: Decimal = Field(description="What the rollup holds")
    raw: Decimal = Field(description="What the `sale` (or order) rows add up to")


class LedgerCheck(Schema):
    products_checked: int
    stock_mismatches: int = Field(
        description="Cached levels that differ from their movements, and broken chains"
    )
    rating_mismatches: int = Field(description="Rating counters that differ from the reviews")
    lifetime_mismatches: int = Field(
        description="Accounts whose lifetime order figures differ from their orders"
    )


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
    order_rows: int = Field(description="`order_daily` rows written")
    customer_rows: int = Field(description="`customer_daily` rows written")
    accounts_rewritten: int = Field(
        description="Accounts whose lifetime order figures were corrected"
    )


# --- orders ---------------------------------------------------------------------------------


class OrderMetrics(Schema):
    orders_placed: int = Field(description="Orders placed (by the day they were placed)")
    orders_paid: int = Field(description="Orders paid, whether refunded later or not")
    orders_cancelled: int = Field(description="Unpaid orders cancelled (expiries excluded)")
    orders_refunded: int = Field(description="Paid orders refunded")
    paid_revenue: Decimal = Field(description="The totals of the orders paid")
    average_order_value: Decimal | None = Field(
        description="paid_revenue / orders_paid; null when none was paid"
    )
    units_per_order: Decimal | None = Field(
        description="Units of the orders paid / orders_paid; null when none was paid"
    )
    cancellation_rate: Decimal | None = Field(
        description="orders_cancelled / orders_placed, a fraction (0.25 is a quarter); null "
        "when none was placed"
    )


class OrderBucket(OrderMetrics):
    start: date
    end: date


class OrderMetricsChange(Schema):
    orders_placed: Change
    orders_paid: Change
    orders_cancelled: Change
    orders_refunded: Change
    paid_revenue: Change
    average_order_value: Change
    units_per_order: Change
    cancellation_rate: Change


class OrderSeries(Schema):
    start: date
    end: date
    totals: OrderMetrics
    buckets: list[OrderBucket]


class OrdersReport(OrderSeries):
    interval: Interval
    comparison: OrderSeries | None = None
    change: OrderMetricsChange | None = None


# --- customers ------------------------------------------------------------------------------


class CustomerMetrics(Schema):
    new_customers: int = Field(description="Customers whose first paid order falls in it")
    returning_customers: int = Field(description="Customers who paid in it and had paid before")
    active_customers: int = Field(description="Customers who paid in it")
    repeat_rate: Decimal | None = Field(
        description="returning_customers / active_customers, a fraction; null when none paid"
    )


class CustomerBucket(CustomerMetrics):
    start: date
    end: date


class CustomerMetricsChange(Schema):
    new_customers: Change
    returning_customers: Change
    active_customers: Change
    repeat_rate: Change


class CustomerSeries(Schema):
    start: date
    end: date
    totals: CustomerMetrics
    buckets: list[CustomerBucket]


class CustomersReport(CustomerSeries):
    interval: Interval
    comparison: CustomerSeries | None = None
    change: CustomerMetricsChange | None = None


class TopCustomerSort(StrEnum):
    net_spend = "net_spend"
    orders = "orders"
    average_order_value = "average_order_value"


class TopCustomer(Schema):
    customer_id: int
    full_name: str
    email: str
    orders: int = Field(description="Orders paid in the range, refunded ones included")
    net_spend: Decimal = Field(description="What those orders paid, minus their refunds")
    average_order_value: Decimal = Field(description="net_spend / orders")
    first_order_at: datetime = Field(description="When the first of those orders was placed")
    last_order_at: datetime = Field(description="When the last of those orders was placed")


class TopCustomers(Schema):
    start: date
    end: date
    sort: TopCustomerSort
    items: list[TopCustomer]


class CohortPeriod(StrEnum):
    month = "month"
    week = "week"


class Cohort(Schema):
    cohort: str = Field(description="`2026-03` (month) or `2026-W09` (ISO week)")
    start: date = Field(description="The cohort period's first day")
    customers: int = Field(description="Customers whose first paid order falls in it")
    retention: list[Decimal] = Field(
        description="`retention[k]`: the share of the cohort with a paid order k periods "
        "later (`retention[0]` is 1), up to the period of `end`"
    )


class CohortReport(Schema):
    period: CohortPeriod
    start: date
    end: date
    cohorts: list[Cohort]
