"""The demo store's year of counter sales and refunds, with its demand curves and restocks.

Sales follow weekly and seasonal patterns, Black Friday and Christmas, and a growth trend.
Rows are generated in time order, day by day: the morning's restocks, then the day's sales,
customer checkouts (`common.ops.demo.orders`) and refunds falling due, sorted by the second.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from common.models.inventory import MovementKind
from common.ops.demo.ledger import book_refund, book_sale, move
from common.ops.demo.options import CENT, NEGLECT_DAYS, QUANTITIES, QUANTITY_WEIGHTS
from common.ops.demo.orders import checkout, pending_order_count
from common.ops.demo.state import DemoProduct, DemoStore, PendingRefund, allocate

MAX_REFUND_DELAY_DAYS = 21
WEEKDAY_DEMAND = (0.9, 0.85, 0.9, 0.95, 1.1, 1.35, 1.25)  # Monday first
HOUR_DEMAND = (
    0.3, 0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.6, 0.9, 1.1, 1.2, 1.3,
    1.5, 1.4, 1.2, 1.1, 1.1, 1.2, 1.4, 1.7, 1.9, 1.8, 1.2, 0.7,
)  # fmt: skip
DISCOUNTS = (Decimal("0.10"), Decimal("0.15"), Decimal("0.20"), Decimal("0.30"))
# Yearly growth, so "compare with the previous period" shows a trend.
GROWTH_OVER_RANGE = 0.25


@dataclass(frozen=True)
class _Checkout:
    """An order placed (and, depending on its fate, paid) at the event's moment."""


def _days(store: DemoStore) -> list[date]:
    return [store.start + timedelta(days=i) for i in range(store.options.days)]


def _daily_sales(store: DemoStore, days: Sequence[date]) -> list[int]:
    """The number of sales of each day: weekends, the store's seasons, Black Friday and
    Christmas, a growth trend, and day-to-day noise."""
    rng = store.rng
    category_weight: dict[int, float] = defaultdict(float)
    for product in store.products:
        category_weight[product.category_id] += product.weight
    weights = []
    for index, day in enumerate(days):
        season = sum(
            weight * store.category_specs[category_id].season[day.month - 1]
            for category_id, weight in category_weight.items()
        )
        weight = season * WEEKDAY_DEMAND[day.weekday()]
        weight *= 1 + GROWTH_OVER_RANGE * index / len(days)
        weight *= _holiday_factor(day) * rng.uniform(0.88, 1.12)
        weights.append(weight)
    return allocate(store.options.sales, weights)


async def seed_sales(store: DemoStore) -> None:
    days = _days(store)
    counts = _daily_sales(store, days)
    monthly_weights = {
        month: list(
            itertools.accumulate(
                product.weight * store.category_specs[product.category_id].season[month - 1]
                for product in store.products
            )
        )
        for month in range(1, 13)
    }
    hour_weights = list(itertools.accumulate(HOUR_DEMAND))
    quantity_weights = list(itertools.accumulate(QUANTITY_WEIGHTS))
    pending = store.pending_refunds
    # Orders follow the same days as counter sales (placed ones only: the pending orders
    # come at the end).
    placed = store.options.orders - pending_order_count(store)
    order_counts = allocate(placed, [count + 1 for count in counts])
    store.stage("sales and orders")
    for index, (day, count) in enumerate(zip(days, counts, strict=True)):
        neglecting = index >= len(days) - NEGLECT_DAYS
        await _restock(store, day, neglecting=neglecting)
        chosen = store.rng.choices(store.products, cum_weights=monthly_weights[day.month], k=count)
        hours = store.rng.choices(range(24), cum_weights=hour_weights, k=count)
        quantities = store.rng.choices(QUANTITIES, cum_weights=quantity_weights, k=count)
        events: list[tuple[int, int, DemoProduct | PendingRefund | _Checkout, int]] = [
            (hour * 3600 + store.rng.randint(1, 3599), 0, product, quantity)
            for hour, product, quantity in zip(hours, chosen, quantities, strict=True)
        ]
        events += [
            (store.rng.randint(7 * 3600, 23 * 3600), 0, _Checkout(), 0)
            for _ in range(order_counts[index])
        ]
        events += [(refund.second_of_day, 1, refund, 0) for refund in pending.pop(index, [])]
        events.sort(key=lambda event: (event[0], event[1]))
        for second_of_day, _, subject, quantity in events:
            moment = store.instant(day, second_of_day)
            if isinstance(subject, PendingRefund):
                await book_refund(store, subject, moment)
                continue
            if isinstance(subject, _Checkout):
                await checkout(
                    store,
                    moment,
                    days=days,
                    index=index,
                    weights=monthly_weights[day.month],
                    neglecting=neglecting,
                )
                continue
            sale_id, unit_price, sold = await _sell(store, subject, quantity, moment, neglecting)
            if store.rng.random() < store.options.refund_rate:
                later = index + store.rng.randint(1, MAX_REFUND_DELAY_DAYS)
                if later < len(days):
                    pending[later].append(
                        PendingRefund(
                            sale_id=sale_id,
                            product=sold,
                            quantity=store.rng.randint(1, quantity),
                            unit_price=unit_price,
                            unit_cost=sold.cost,
                            second_of_day=store.rng.randint(8 * 3600, 20 * 3600),
                        )
                    )
        store.progress.update()
    await store.writer.flush()


async def _restock(store: DemoStore, day: date, *, neglecting: bool) -> None:
    """Morning deliveries: every product at or below its reorder point is filled up."""
    at = store.instant(day, 0)
    for product in store.products:
        if neglecting and product.neglected:
            continue
        if product.level <= product.reorder_at:
            extra = store.rng.randint(0, product.order_up_to // 5)
            delta = product.order_up_to - product.level + extra
            await move(store, product, MovementKind.RESTOCK, delta, at, "demo delivery")


async def _sell(
    store: DemoStore, product: DemoProduct, quantity: int, moment: datetime, neglecting: bool
) -> tuple[int, Decimal, DemoProduct]:
    if product.level < quantity and neglecting and product.neglected:
        # Sold out and not coming back: the customer buys the category's best seller.
        product = store.fallback[product.category_id]
    unit_price = product.price
    if store.rng.random() < product.discount_rate:
        unit_price = (product.price * (1 - store.rng.choice(DISCOUNTS))).quantize(CENT)
    sale_id = await book_sale(store, product, quantity, unit_price, moment)
    return sale_id, unit_price, product


def _holiday_factor(day: date) -> float:
    """Black Friday (the fourth Friday of November), Cyber Monday and the Christmas days."""
    if day.month == 11 and day.weekday() == 4 and 22 <= day.day <= 28:
        return 2.6
    if (day.month == 11 and day.weekday() == 0 and day.day >= 25) or (
        day.month == 12 and day.weekday() == 0 and day.day <= 1
    ):
        return 1.9
    return {(12, 24): 0.7, (12, 25): 0.35, (12, 26): 1.4, (1, 1): 0.5}.get(
        (day.month, day.day), 1.0
    )
