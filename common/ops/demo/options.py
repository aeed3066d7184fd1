"""What a demo store is built from and what it came to: options, summary, errors, constants."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

CENT = Decimal("0.01")
# One shared password for every demo customer (hashed once: Argon2 per account would cost
# more than the whole sales history).
DEMO_CUSTOMER_PASSWORD = "demo-customer"  # noqa: S105
# Some products stop being restocked over the last weeks, so low-stock and out-of-stock
# views have something to show.
NEGLECTED_SHARE = 0.06
NEGLECT_DAYS = 28
# Units per sale: what the sales draw, and what the catalog plans its stock for.
QUANTITIES = (1, 2, 3, 4, 5)
QUANTITY_WEIGHTS = (70, 18, 7, 3, 2)
MEAN_QUANTITY = sum(q * w for q, w in zip(QUANTITIES, QUANTITY_WEIGHTS, strict=True)) / sum(
    QUANTITY_WEIGHTS
)


class CatalogNotEmpty(Exception):
    """Demo data is only ever written into an empty catalog: mixed with a real store's data
    it would corrupt every report."""


class InvalidDemoOptions(ValueError):
    """Options no demo store can be built from."""


@dataclass(frozen=True)
class DemoOptions:
    products: int = 200
    days: int = 365
    sales: int = 50_000
    customers: int = 200
    seed: int = 1
    # Last day of history (store time); default yesterday, so no sale lies in the future.
    end: date | None = None
    refund_rate: float = 0.02
    # Customer orders, on top of the counter `sales`.
    orders: int = 2000

    def __post_init__(self) -> None:
        if self.products < 1 or self.days < 1 or min(self.sales, self.customers, self.orders) < 0:
            raise InvalidDemoOptions(
                "products and days must be at least 1; sales, customers and orders >= 0"
            )
        if self.orders and not self.customers:
            raise InvalidDemoOptions("orders need customers to place them (--customers)")
        if not 0 <= self.refund_rate <= 1:
            raise InvalidDemoOptions("refund_rate is a share between 0 and 1")


@dataclass
class DemoSummary:
    start: date
    end: date
    categories: int = 0
    products: int = 0
    customers: int = 0
    wallet_entries: int = 0
    sales: int = 0
    refunds: int = 0
    movements: int = 0
    units_sold: int = 0
    units_refunded: int = 0
    revenue: Decimal = Decimal("0.00")
    refunded: Decimal = Decimal("0.00")
    stock_on_hand: int = 0
    wallet_total: Decimal = Decimal("0.00")
    # By status.
    orders: Counter[str] = field(default_factory=Counter)
    reviews: Counter[str] = field(default_factory=Counter)
