"""Demo data: a store with a year of history, so a new dashboard shows something at once.

`seed_demo` fills an empty catalog with categories and products (`common.demo_catalog`),
their stock ledger (initial stock, restocks, one `sale` movement per sale, `return`s for
refunds), a year of sales with weekly and seasonal patterns, refunds, customers with wallets,
their orders in every state and their reviews. Everything is derived from one
`random.Random(seed)` and the end date, so the same options give the same rows.

Orders follow the sales service's flow row for row: each holds a stock reservation; a paid
order has its wallet `payment`, one sale per line (`order_id` set) and its reservation
confirmed; a refunded one also has the wallet `refund` and a refund sale per line; cancelled
and expired orders released or lost their hold and moved nothing. Shipped and delivered are
paid orders that went on through fulfilment. Pending orders are placed in the last hour of
history and hold their stock for `PENDING_HOLD`, so a freshly seeded store shows open orders.
Reviews are written by customers about products delivered to them, and moderated (or not yet).

Written for volume (1,000,000 sales in minutes): rows are generated in time order in Python,
with explicit ids so each ledger's `quantity_after` chain and each refund's `refund_of_id` are
known before insertion, and sent as multi-row INSERTs in batches. Stock is tracked in Python
and written to `product.stock_on_hand` once at the end; both rollups are built once at the end
with `rebuild_rollups`. The result is exactly what booking each sale through `common.sales`
would have produced: `reconcile`, `reconcile_wallets` and a rollup rebuild all agree with it.
Wallet entries are resolved last, in time order, because order payments and the customers'
own top-ups and debits interleave on one balance.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from common.db import Base
from common.models.catalog import Category, Product, ProductStatus
from common.models.identity import Role, UserAccount, WalletEntry, WalletEntryKind
from common.models.inventory import (
    InventoryMovement,
    MovementKind,
    ReservationStatus,
    StockReservation,
    StockReservationItem,
)
from common.models.orders import CustomerOrder, OrderItem, OrderStatus, OrderStatusChange
from common.models.review import Review, ReviewStatus
from common.models.sales import Sale, SaleKind
from common.ops.demo.catalog import CATEGORIES, FIRST_NAMES, LAST_NAMES, CategorySpec
from common.reviews.ratings import recount_ratings
from common.sales.service import business_date, rebuild_rollups

CENT = Decimal("0.01")
ACTOR = "demo"
# One shared password for every demo customer (hashed once: Argon2 per account would cost
# more than the whole sales history).
DEMO_CUSTOMER_PASSWORD = "demo-customer"  # noqa: S105
BATCH_ROWS = 5000
MAX_REFUND_DELAY_DAYS = 21
# Some products stop being restocked over the last weeks, so low-stock and out-of-stock
# views have something to show.
NEGLECTED_SHARE = 0.06
NEGLECT_DAYS = 28
WEEKDAY_DEMAND = (0.9, 0.85, 0.9, 0.95, 1.1, 1.35, 1.25)  # Monday first
HOUR_DEMAND = (
    0.3, 0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.6, 0.9, 1.1, 1.2, 1.3,
    1.5, 1.4, 1.2, 1.1, 1.1, 1.2, 1.4, 1.7, 1.9, 1.8, 1.2, 0.7,
)  # fmt: skip
QUANTITIES = (1, 2, 3, 4, 5)
QUANTITY_WEIGHTS = (70, 18, 7, 3, 2)
MEAN_QUANTITY = sum(q * w for q, w in zip(QUANTITIES, QUANTITY_WEIGHTS, strict=True)) / sum(
    QUANTITY_WEIGHTS
)
DISCOUNTS = (Decimal("0.10"), Decimal("0.15"), Decimal("0.20"), Decimal("0.30"))
# Yearly growth, so "compare with the previous period" shows a trend.
GROWTH_OVER_RANGE = 0.25
# How long an order may wait for payment: the default ORDER_RESERVATION_TTL.
PAYMENT_WINDOW = timedelta(minutes=15)
# Pending orders of a fresh demo store hold their stock this long after the end of history,
# so the dashboard has open orders to show; the sweeper expires them afterwards.
PENDING_HOLD = timedelta(days=2)
PENDING_SHARE = 0.02
# What becomes of an order that was not left pending; "completed" ones are paid and go on
# through fulfilment (shipped, delivered) as far as the end of history allows.
ORDER_FATES = ("completed", "cancelled", "expired", "refunded")
ORDER_FATE_WEIGHTS = (80, 7, 7, 6)
ORDER_LINES = (1, 2, 3)
ORDER_LINE_WEIGHTS = (70, 22, 8)
MAX_ORDER_REFUND_DELAY_DAYS = 14
REVIEW_SHARE = 0.45
RATINGS = (5, 4, 3, 2, 1)
RATING_WEIGHTS = (46, 28, 11, 6, 9)
REVIEW_STATUSES = (ReviewStatus.APPROVED, ReviewStatus.PENDING, ReviewStatus.REJECTED)
REVIEW_STATUS_WEIGHTS = (75, 15, 10)
REVIEW_TEXTS = {
    5: ("Love it", "Exactly as described and arrived quickly. Would buy again."),
    4: ("Very good", "Does the job well; one or two small things could be better."),
    3: ("It's okay", "Fine for the price, nothing special."),
    2: ("Disappointing", "Quality is lower than the pictures suggest."),
    1: ("Not for me", "Stopped working after a week and support was slow."),
}


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


# Identity equality: a product is one object for the whole run, and a key of order lines.
@dataclass(eq=False)
class _Product:
    id: int
    category_id: int
    price: Decimal
    cost: Decimal
    weight: float
    discount_rate: float
    reorder_at: int
    order_up_to: int
    neglected: bool
    level: int = 0
    # Units held by pending orders at the end of history.
    held: int = 0


@dataclass(frozen=True)
class _PendingRefund:
    sale_id: int
    product: _Product
    quantity: int
    unit_price: Decimal
    unit_cost: Decimal
    second_of_day: int
    order_id: int | None = None


@dataclass(frozen=True)
class _Checkout:
    """An order placed (and, depending on its fate, paid) at the event's moment."""


@dataclass(frozen=True)
class _WalletEvent:
    """A change of one wallet, resolved against the balance of its moment at the end.

    `debit_share` > 0: the customer takes out that percentage of the balance when it is at
    least 20, and otherwise tops up `amount`. A payment the balance cannot cover is preceded
    by a top-up, as a shopper short of money would do."""

    moment: datetime
    user_id: int
    kind: WalletEntryKind
    amount: Decimal
    debit_share: int = 0
    reference: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class _Delivered:
    customer_id: int
    product_id: int
    at: datetime


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainder: exact and deterministic)."""
    whole = sum(weights)
    shares = [total * weight / whole for weight in weights]
    counts = [math.floor(share) for share in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _price(rng: random.Random, low: float, high: float) -> Decimal:
    """A shelf price ending in .99."""
    return Decimal(max(1, round(rng.uniform(low, high)))) - CENT


class _Steps:
    """A progress bar of the seeding steps (rich, like the other CLI commands)."""

    def __init__(self, *, total: int, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not enabled,
        )
        self._task = self._progress.add_task("demo data", total=total)
        self._progress.start()

    def set_description(self, description: str) -> None:
        self._progress.update(self._task, description=description)

    def update(self) -> None:
        self._progress.advance(self._task)

    def close(self) -> None:
        self._progress.stop()


class _Writer:
    """Buffers rows per table and sends them as multi-row INSERTs."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.buffers: dict[Table, list[dict[str, Any]]] = defaultdict(list)

    async def add(self, table: Table, row: dict[str, Any]) -> None:
        rows = self.buffers[table]
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            # Everything, referenced tables first: a full batch of sales may point at orders
            # that are still buffered.
            await self.flush()

    async def flush(self) -> None:
        # Insertion order of tables: referenced rows first.
        for table in Base.metadata.sorted_tables:
            if self.buffers.get(table):
                await self._send(table)

    async def _send(self, table: Table) -> None:
        await self.connection.execute(insert(table), self.buffers[table])
        self.buffers[table] = []


async def _next_id(connection: AsyncConnection, table: Table) -> int:
    return int(await connection.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1


async def _ensure_empty_catalog(connection: AsyncConnection) -> None:
    for model in (Category, Product, Sale):
        if await connection.scalar(select(_table(model).c.id).limit(1)) is not None:
            raise CatalogNotEmpty(
                f"the database already has rows in `{_table(model).name}`; demo data is only "
                "written into an empty catalog (use a fresh database)"
            )


class _DemoStore:
    def __init__(
        self,
        connection: AsyncConnection,
        options: DemoOptions,
        *,
        timezone: ZoneInfo,
        start: date,
        end: date,
        progress: bool,
    ) -> None:
        self.options = options
        self.timezone = timezone
        self.start = start
        self.end = end
        # Demo data, not secrets: a seeded generator is what makes the store reproducible.
        self.rng = random.Random(options.seed)  # noqa: S311
        self.writer = _Writer(connection)
        self.connection = connection
        self.summary = DemoSummary(start=start, end=end)
        self.products: list[_Product] = []
        self.category_specs: dict[int, CategorySpec] = {}
        self.fallback: dict[int, _Product] = {}
        self.sale_ids = itertools.count(1)
        self.movement_ids = itertools.count(1)
        self.order_ids = itertools.count(1)
        self.reservation_ids = itertools.count(1)
        # Customers by the time they joined, so orders come from people who already had an
        # account.
        self.customers: list[tuple[datetime, int]] = []
        self.wallet_events: list[_WalletEvent] = []
        self.delivered: list[_Delivered] = []
        # Refunds due, by day index of the history.
        self._pending_refunds: dict[int, list[_PendingRefund]] = defaultdict(list)
        self.progress = _Steps(total=options.days + 5, enabled=progress)
        # When the store opened: products and their opening stock exist a day before sales.
        self.opened_at = self._instant(start - timedelta(days=1), 0)
        self.history_end = self._instant(end, 86_399)

    def _instant(self, day: date, second_of_day: int) -> datetime:
        local = datetime.combine(day, time(), self.timezone) + timedelta(seconds=second_of_day)
        return local.astimezone(UTC)

    def stage(self, description: str) -> None:
        self.progress.set_description(description)

    # --- catalog ---------------------------------------------------------------------------

    async def seed_catalog(self) -> None:
        self.stage("catalog")
        options = self.options
        specs = CATEGORIES[: min(len(CATEGORIES), options.products)]
        first_category = await _next_id(self.connection, _table(Category))
        per_category = _allocate(options.products, [spec.catalog_share for spec in specs])
        category_ids = range(first_category, first_category + len(specs))
        for category_id, spec in zip(category_ids, specs, strict=True):
            await self.writer.add(
                _table(Category),
                {
                    "id": category_id,
                    "name": spec.name,
                    "name_key": spec.name.casefold(),
                    "slug": spec.slug,
                    "description": spec.description,
                    "created_at": self.opened_at,
                    "updated_at": self.opened_at,
                },
            )
        self.summary.categories = len(specs)
        self.category_specs = dict(zip(category_ids, specs, strict=True))
        next_product = await _next_id(self.connection, _table(Product))
        for category_id, spec, count in zip(category_ids, specs, per_category, strict=True):
            for number in range(1, count + 1):
                await self._add_product(next_product, category_id, spec, number)
                next_product += 1
        self._plan_stock()
        for product in self.products:
            await self._move(product, MovementKind.INITIAL, product.order_up_to, self.opened_at)
        self.progress.update()

    async def _add_product(
        self, product_id: int, category_id: int, spec: CategorySpec, number: int
    ) -> None:
        rng = self.rng
        item = spec.items[(number - 1) % len(spec.items)]
        brand = rng.choice(spec.brands)
        variant = rng.choice(spec.variants)
        price = _price(rng, item.min_price, item.max_price)
        margin = Decimal(str(round(rng.uniform(*spec.margin), 2)))
        cost = (price * (1 - margin)).quantize(CENT)
        # A few best sellers and a long tail; cheaper items sell more often.
        weight = spec.demand * rng.lognormvariate(0, 0.9) / float(price) ** 0.35
        self.products.append(
            _Product(
                id=product_id,
                category_id=category_id,
                price=price,
                cost=cost,
                weight=weight,
                discount_rate=spec.discount_rate,
                reorder_at=0,
                order_up_to=0,
                neglected=False,
            )
        )
        await self.writer.add(
            _table(Product),
            {
                "id": product_id,
                "sku": f"{spec.sku_prefix}-{product_id:06d}",
                "name": f"{brand} {item.noun}, {variant}",
                "description": f"{item.noun} by {brand} ({variant}). {spec.description}",
                "category_id": category_id,
                "price": price,
                "cost_price": cost,
                "image_url": None,
                "status": ProductStatus.ACTIVE.value,
                "low_stock_threshold": 10,
                "stock_on_hand": 0,
                "created_at": self.opened_at,
                "updated_at": self.opened_at,
            },
        )

    def _plan_stock(self) -> None:
        """Reorder points from each product's expected demand: about 10 days of cover
        triggers a restock up to about 45 days."""
        total_weight = sum(product.weight for product in self.products)
        daily_units = self.options.sales * MEAN_QUANTITY / self.options.days
        best_per_category: dict[int, _Product] = {}
        for product in self.products:
            best = best_per_category.get(product.category_id)
            if best is None or product.weight > best.weight:
                best_per_category[product.category_id] = product
        for product in self.products:
            daily = daily_units * product.weight / total_weight
            product.reorder_at = max(5, math.ceil(daily * 10))
            product.order_up_to = max(20, math.ceil(daily * 45))
            product.neglected = (
                best_per_category[product.category_id] is not product
                and self.rng.random() < NEGLECTED_SHARE
            )
        self.fallback = best_per_category

    async def _move(
        self, product: _Product, kind: MovementKind, delta: int, at: datetime, reference: str = ""
    ) -> None:
        product.level += delta
        self.summary.movements += 1
        await self.writer.add(
            _table(InventoryMovement),
            {
                "id": next(self.movement_ids),
                "product_id": product.id,
                "kind": kind.value,
                "delta": delta,
                "quantity_after": product.level,
                "reference": reference or None,
                "actor": ACTOR,
                "note": None,
                "created_at": at,
            },
        )

    # --- customers -------------------------------------------------------------------------

    async def seed_customers(self, password_hash: str) -> None:
        self.stage("customers")
        rng = self.rng
        first_id = await _next_id(self.connection, _table(UserAccount))
        first_history = self.opened_at - timedelta(days=30)
        span = (self.history_end - first_history).total_seconds()
        for user_id in range(first_id, first_id + self.options.customers):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            joined = first_history + timedelta(seconds=rng.uniform(0, span * 0.8))
            await self.writer.add(
                _table(UserAccount),
                {
                    "id": user_id,
                    "email": f"{first}.{last}.{user_id}@example.com".lower(),
                    "full_name": f"{first} {last}",
                    "phone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                    "password_hash": password_hash,
                    "role": Role.customer.value,
                    "is_active": True,
                    "wallet_balance": Decimal("0.00"),
                    "created_at": joined,
                    "updated_at": joined,
                },
            )
            self.customers.append((joined, user_id))
            left = span - (joined - first_history).total_seconds()
            for _ in range(rng.randint(0, 6)):
                self.wallet_events.append(
                    _WalletEvent(
                        moment=joined + timedelta(seconds=rng.uniform(0, left)),
                        user_id=user_id,
                        kind=WalletEntryKind.top_up,
                        amount=Decimal(rng.choice((20, 50, 100, 200, 500))),
                        debit_share=rng.choice((25, 50, 100)) if rng.random() < 0.4 else 0,
                    )
                )
        await self.writer.flush()
        self.customers.sort()
        self.summary.customers = self.options.customers
        self.progress.update()

    async def seed_wallets(self) -> None:
        """Every wallet entry, in time order per wallet, with the balance after each."""
        self.stage("wallets")
        balances: dict[int, Decimal] = defaultdict(Decimal)
        entry_ids = itertools.count(await _next_id(self.connection, _table(WalletEntry)))
        entries = 0

        async def write(event: _WalletEvent, kind: WalletEntryKind, amount: Decimal) -> None:
            nonlocal entries
            balances[event.user_id] += amount
            entries += 1
            # Orders' payments and refunds name their order and the customer who made them.
            for_order = kind in (WalletEntryKind.payment, WalletEntryKind.refund)
            await self.writer.add(
                _table(WalletEntry),
                {
                    "id": next(entry_ids),
                    "user_id": event.user_id,
                    "kind": kind.value,
                    "amount": amount,
                    "balance_after": balances[event.user_id],
                    "reference": event.reference if for_order else None,
                    "actor_id": event.user_id if for_order else None,
                    "note": event.note if for_order else "demo data",
                    "created_at": event.moment,
                },
            )

        # A stable sort: events of one moment keep the order they were generated in.
        for event in sorted(self.wallet_events, key=lambda e: e.moment):
            balance = balances[event.user_id]
            if event.kind is WalletEntryKind.payment:
                short = -event.amount - balance
                if short > 0:
                    top_up = Decimal(math.ceil(short / 50) * 50)
                    await write(event, WalletEntryKind.top_up, top_up)
                await write(event, event.kind, event.amount)
            elif event.debit_share and balance >= 20:
                share = (balance * event.debit_share / 100).quantize(CENT)
                await write(event, WalletEntryKind.debit, -share)
            else:
                await write(event, event.kind, event.amount)
        await self.writer.flush()
        if balances:
            await self.connection.execute(
                update(_table(UserAccount))
                .where(_table(UserAccount).c.id == bindparam("user_id"))
                .values(wallet_balance=bindparam("balance")),
                [{"user_id": user, "balance": amount} for user, amount in balances.items()],
            )
        self.summary.wallet_entries = entries
        self.summary.wallet_total = sum(balances.values(), Decimal("0.00"))
        self.progress.update()

    # --- sales -----------------------------------------------------------------------------

    def _days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.options.days)]

    def _daily_sales(self, days: Sequence[date]) -> list[int]:
        """The number of sales of each day: weekends, the store's seasons, Black Friday and
        Christmas, a growth trend, and day-to-day noise."""
        rng = self.rng
        category_weight: dict[int, float] = defaultdict(float)
        for product in self.products:
            category_weight[product.category_id] += product.weight
        weights = []
        for index, day in enumerate(days):
            season = sum(
                weight * self.category_specs[category_id].season[day.month - 1]
                for category_id, weight in category_weight.items()
            )
            weight = season * WEEKDAY_DEMAND[day.weekday()]
            weight *= 1 + GROWTH_OVER_RANGE * index / len(days)
            weight *= _holiday_factor(day) * rng.uniform(0.88, 1.12)
            weights.append(weight)
        return _allocate(self.options.sales, weights)

    async def seed_sales(self) -> None:
        days = self._days()
        counts = self._daily_sales(days)
        monthly_weights = {
            month: list(
                itertools.accumulate(
                    product.weight * self.category_specs[product.category_id].season[month - 1]
                    for product in self.products
                )
            )
            for month in range(1, 13)
        }
        hour_weights = list(itertools.accumulate(HOUR_DEMAND))
        quantity_weights = list(itertools.accumulate(QUANTITY_WEIGHTS))
        pending = self._pending_refunds
        # Orders follow the same days as counter sales (placed ones only: the pending orders
        # come at the end).
        placed = self.options.orders - self._pending_order_count()
        order_counts = _allocate(placed, [count + 1 for count in counts])
        self.stage("sales and orders")
        for index, (day, count) in enumerate(zip(days, counts, strict=True)):
            neglecting = index >= len(days) - NEGLECT_DAYS
            await self._restock(day, neglecting=neglecting)
            chosen = self.rng.choices(
                self.products, cum_weights=monthly_weights[day.month], k=count
            )
            hours = self.rng.choices(range(24), cum_weights=hour_weights, k=count)
            quantities = self.rng.choices(QUANTITIES, cum_weights=quantity_weights, k=count)
            events: list[tuple[int, int, _Product | _PendingRefund | _Checkout, int]] = [
                (hour * 3600 + self.rng.randint(1, 3599), 0, product, quantity)
                for hour, product, quantity in zip(hours, chosen, quantities, strict=True)
            ]
            events += [
                (self.rng.randint(7 * 3600, 23 * 3600), 0, _Checkout(), 0)
                for _ in range(order_counts[index])
            ]
            events += [(refund.second_of_day, 1, refund, 0) for refund in pending.pop(index, [])]
            events.sort(key=lambda event: (event[0], event[1]))
            for second_of_day, _, subject, quantity in events:
                moment = self._instant(day, second_of_day)
                if isinstance(subject, _PendingRefund):
                    await self._refund(subject, moment)
                    continue
                if isinstance(subject, _Checkout):
                    await self._checkout(
                        moment,
                        days=days,
                        index=index,
                        weights=monthly_weights[day.month],
                        neglecting=neglecting,
                    )
                    continue
                sale_id, unit_price, sold = await self._sell(subject, quantity, moment, neglecting)
                if self.rng.random() < self.options.refund_rate:
                    later = index + self.rng.randint(1, MAX_REFUND_DELAY_DAYS)
                    if later < len(days):
                        pending[later].append(
                            _PendingRefund(
                                sale_id=sale_id,
                                product=sold,
                                quantity=self.rng.randint(1, quantity),
                                unit_price=unit_price,
                                unit_cost=sold.cost,
                                second_of_day=self.rng.randint(8 * 3600, 20 * 3600),
                            )
                        )
            self.progress.update()
        await self.writer.flush()

    async def _restock(self, day: date, *, neglecting: bool) -> None:
        """Morning deliveries: every product at or below its reorder point is filled up."""
        at = self._instant(day, 0)
        for product in self.products:
            if neglecting and product.neglected:
                continue
            if product.level <= product.reorder_at:
                extra = self.rng.randint(0, product.order_up_to // 5)
                delta = product.order_up_to - product.level + extra
                await self._move(product, MovementKind.RESTOCK, delta, at, "demo delivery")

    async def _sell(
        self, product: _Product, quantity: int, moment: datetime, neglecting: bool
    ) -> tuple[int, Decimal, _Product]:
        if product.level < quantity and neglecting and product.neglected:
            # Sold out and not coming back: the customer buys the category's best seller.
            product = self.fallback[product.category_id]
        unit_price = product.price
        if self.rng.random() < product.discount_rate:
            unit_price = (product.price * (1 - self.rng.choice(DISCOUNTS))).quantize(CENT)
        sale_id = await self._book_sale(product, quantity, unit_price, moment)
        return sale_id, unit_price, product

    async def _book_sale(
        self,
        product: _Product,
        quantity: int,
        unit_price: Decimal,
        moment: datetime,
        order_id: int | None = None,
    ) -> int:
        if product.level < quantity:
            # An express delivery: the ledger never goes below zero.
            await self._move(
                product, MovementKind.RESTOCK, product.order_up_to, moment, "demo express delivery"
            )
        sale_id = next(self.sale_ids)
        await self._move(
            product,
            MovementKind.SALE,
            -quantity,
            moment,
            _sale_reference("sale", sale_id, order_id),
        )
        await self._add_sale(
            sale_id,
            SaleKind.sale,
            product,
            quantity=quantity,
            unit_price=unit_price,
            unit_cost=product.cost,
            moment=moment,
            order_id=order_id,
        )
        self.summary.sales += 1
        self.summary.units_sold += quantity
        self.summary.revenue += unit_price * quantity
        return sale_id

    async def _refund(self, refund: _PendingRefund, moment: datetime) -> None:
        refund_id = next(self.sale_ids)
        await self._move(
            refund.product,
            MovementKind.RETURN,
            refund.quantity,
            moment,
            _sale_reference("refund", refund_id, refund.order_id),
        )
        await self._add_sale(
            refund_id,
            SaleKind.refund,
            refund.product,
            quantity=-refund.quantity,
            unit_price=refund.unit_price,
            unit_cost=refund.unit_cost,
            moment=moment,
            refund_of_id=refund.sale_id,
            order_id=refund.order_id,
        )
        self.summary.refunds += 1
        self.summary.units_refunded += refund.quantity
        self.summary.refunded += refund.unit_price * refund.quantity

    async def _add_sale(
        self,
        sale_id: int,
        kind: SaleKind,
        product: _Product,
        *,
        quantity: int,
        unit_price: Decimal,
        unit_cost: Decimal,
        moment: datetime,
        refund_of_id: int | None = None,
        order_id: int | None = None,
    ) -> None:
        await self.writer.add(
            _table(Sale),
            {
                "id": sale_id,
                "kind": kind.value,
                "product_id": product.id,
                "category_id": product.category_id,
                "order_id": order_id,
                "refund_of_id": refund_of_id,
                "quantity": quantity,
                "unit_price": unit_price,
                "unit_cost": unit_cost,
                "revenue": unit_price * quantity,
                "cost": unit_cost * quantity,
                "sold_at": moment,
                "business_date": business_date(moment, self.timezone),
                "actor": ACTOR,
                "created_at": moment,
            },
        )

    # --- orders ----------------------------------------------------------------------------

    def _pending_order_count(self) -> int:
        if not self.options.orders:
            return 0
        return max(1, round(self.options.orders * PENDING_SHARE))

    def _customer_at(self, moment: datetime) -> int:
        joined = bisect.bisect_right(self.customers, (moment, math.inf))
        # Nobody had joined yet (a very short history): the first customer it is.
        _, customer_id = self.customers[self.rng.randrange(joined) if joined else 0]
        return customer_id

    def _order_lines(self, weights: Sequence[float]) -> dict[_Product, int]:
        """Distinct products in ascending id order (the lock order of the real flow)."""
        count = self.rng.choices(ORDER_LINES, weights=ORDER_LINE_WEIGHTS)[0]
        picked = self.rng.choices(self.products, cum_weights=weights, k=count)
        return {
            product: self.rng.choices((1, 2), weights=(85, 15))[0]
            for product in sorted(set(picked), key=lambda p: p.id)
        }

    async def _checkout(
        self,
        moment: datetime,
        *,
        days: Sequence[date],
        index: int,
        weights: Sequence[float],
        neglecting: bool,
    ) -> None:
        """An order placed shortly before `moment` and, unless it is cancelled or left to
        expire, paid at `moment`: stock and money move when it is paid."""
        rng = self.rng
        customer = self._customer_at(moment)
        lines: dict[_Product, int] = {}
        for product, quantity in self._order_lines(weights).items():
            if neglecting and product.neglected and product.level < quantity:
                # Sold out for good: the shopper takes the category's best seller instead.
                product = self.fallback[product.category_id]
            lines[product] = lines.get(product, 0) + quantity
        lines = dict(sorted(lines.items(), key=lambda line: line[0].id))
        fate = rng.choices(ORDER_FATES, weights=ORDER_FATE_WEIGHTS)[0]
        order_id = next(self.order_ids)
        created = moment - timedelta(seconds=rng.randint(30, 600))
        expires = created + PAYMENT_WINDOW
        history: list[tuple[OrderStatus, datetime, int | None]] = []
        if fate == "cancelled":
            cancelled = created + timedelta(seconds=rng.randint(20, 600))
            history.append((OrderStatus.CANCELLED, cancelled, customer))
            reservation = ReservationStatus.RELEASED
        elif fate == "expired":
            # The sweeper writes the expiry down some seconds after the fact.
            history.append(
                (OrderStatus.EXPIRED, expires + timedelta(seconds=rng.randint(1, 30)), None)
            )
            reservation = ReservationStatus.EXPIRED
        else:
            reservation = ReservationStatus.CONFIRMED
            history.append((OrderStatus.PAID, moment, customer))
            total = _order_total(lines)
            self.wallet_events.append(
                _WalletEvent(
                    moment=moment,
                    user_id=customer,
                    kind=WalletEntryKind.payment,
                    amount=-total,
                    reference=f"order:{order_id}",
                    note=None,
                )
            )
            sales = [
                (
                    product,
                    quantity,
                    await self._book_sale(product, quantity, product.price, moment, order_id),
                )
                for product, quantity in lines.items()
            ]
            later = index + rng.randint(1, MAX_ORDER_REFUND_DELAY_DAYS)
            if fate == "refunded" and later < len(days):
                second = rng.randint(8 * 3600, 20 * 3600)
                refunded_at = self._instant(days[later], second)
                history.append((OrderStatus.REFUNDED, refunded_at, customer))
                self.wallet_events.append(
                    _WalletEvent(
                        moment=refunded_at,
                        user_id=customer,
                        kind=WalletEntryKind.refund,
                        amount=total,
                        reference=f"order:{order_id}",
                        note="changed my mind",
                    )
                )
                # The stock and the refund sales come back in the event stream, in time order.
                self._pending_refunds[later] += [
                    _PendingRefund(
                        sale_id=sale_id,
                        product=product,
                        quantity=quantity,
                        unit_price=product.price,
                        unit_cost=product.cost,
                        second_of_day=second,
                        order_id=order_id,
                    )
                    for product, quantity, sale_id in sales
                ]
            else:
                self._fulfil(history, customer, lines, paid_at=moment)
        await self._write_order(
            order_id, customer, lines, created=created, expires=expires, reservation=reservation,
            history=history, paid_at=moment if reservation is ReservationStatus.CONFIRMED else None,
        )  # fmt: skip

    def _fulfil(
        self,
        history: list[tuple[OrderStatus, datetime, int | None]],
        customer: int,
        lines: dict[_Product, int],
        *,
        paid_at: datetime,
    ) -> None:
        """Shipped a day or three after payment, delivered a few days later: as far as the
        end of history allows. The shop's staff make these changes (no demo admin account
        exists, so no actor is recorded)."""
        shipped = paid_at + timedelta(hours=self.rng.uniform(18, 72))
        delivered = shipped + timedelta(hours=self.rng.uniform(24, 120))
        if shipped <= self.history_end:
            history.append((OrderStatus.SHIPPED, shipped, None))
        if delivered <= self.history_end:
            history.append((OrderStatus.DELIVERED, delivered, None))
            self.delivered += [_Delivered(customer, product.id, delivered) for product in lines]

    async def seed_pending_orders(self) -> None:
        """Orders placed in the last hour of history and not paid yet: they hold stock."""
        self.stage("pending orders")
        rng = self.rng
        last_day = self._instant(self.end, 23 * 3600)
        weights = list(itertools.accumulate(product.weight for product in self.products))
        for _ in range(self._pending_order_count()):
            created = last_day + timedelta(seconds=rng.randint(0, 3599))
            lines = {
                product: quantity
                for product, quantity in self._order_lines(weights).items()
                if product.level - product.held >= quantity
            }
            if not lines:  # everything it wanted was sold out or held
                continue
            for product, quantity in lines.items():
                product.held += quantity
            await self._write_order(
                next(self.order_ids),
                self._customer_at(created),
                lines,
                created=created,
                expires=self.history_end + PENDING_HOLD,
                reservation=ReservationStatus.ACTIVE,
                history=[],
                paid_at=None,
            )
        self.progress.update()

    async def _write_order(
        self,
        order_id: int,
        customer: int,
        lines: dict[_Product, int],
        *,
        created: datetime,
        expires: datetime,
        reservation: ReservationStatus,
        history: list[tuple[OrderStatus, datetime, int | None]],
        paid_at: datetime | None,
    ) -> None:
        """The order, its lines, its reservation and its status history, as the sales
        service would have left them."""
        reservation_id = next(self.reservation_ids)
        updated = history[-1][1] if history else created
        status = history[-1][0] if history else OrderStatus.PENDING
        await self.writer.add(
            _table(StockReservation),
            {
                "id": reservation_id,
                "status": reservation.value,
                "reference": f"order:{order_id}",
                "actor": f"user:{customer}",
                "expires_at": expires,
                "created_at": created,
                "updated_at": updated,
            },
        )
        await self.writer.add(
            _table(CustomerOrder),
            {
                "id": order_id,
                "customer_id": customer,
                "status": status.value,
                "total": _order_total(lines),
                "shipping_address": (
                    f"{self.rng.randint(1, 999)} {self.rng.choice(LAST_NAMES)} Street"
                ),
                "notes": None,
                "reservation_id": reservation_id,
                "expires_at": expires,
                "created_at": created,
                "paid_at": paid_at,
                "updated_at": updated,
            },
        )
        for product, quantity in lines.items():
            await self.writer.add(
                _table(StockReservationItem),
                {
                    "reservation_id": reservation_id,
                    "product_id": product.id,
                    "quantity": quantity,
                    "status": reservation.value,
                    "expires_at": expires,
                },
            )
            await self.writer.add(
                _table(OrderItem),
                {
                    "order_id": order_id,
                    "product_id": product.id,
                    "quantity": quantity,
                    "unit_price": product.price,
                    "line_total": product.price * quantity,
                },
            )
        previous: OrderStatus | None = None
        for to_status, at, actor in [(OrderStatus.PENDING, created, customer), *history]:
            await self.writer.add(
                _table(OrderStatusChange),
                {
                    "order_id": order_id,
                    "from_status": previous.value if previous else None,
                    "to_status": to_status.value,
                    "actor_id": actor,
                    "reason": "changed my mind" if to_status is OrderStatus.REFUNDED else None,
                    "created_at": at,
                },
            )
            previous = to_status
        self.summary.orders[status.value] += 1

    # --- reviews ---------------------------------------------------------------------------

    async def seed_reviews(self) -> None:
        """Some customers review what was delivered to them (one review per product each);
        most reviews are approved by now, some wait for moderation, a few were rejected."""
        self.stage("reviews")
        rng = self.rng
        reviewed: set[tuple[int, int]] = set()
        for delivered in self.delivered:
            key = (delivered.customer_id, delivered.product_id)
            if key in reviewed or rng.random() >= REVIEW_SHARE:
                continue
            written = delivered.at + timedelta(hours=rng.uniform(2, 240))
            if written > self.history_end:
                continue
            reviewed.add(key)
            rating = rng.choices(RATINGS, weights=RATING_WEIGHTS)[0]
            status = rng.choices(REVIEW_STATUSES, weights=REVIEW_STATUS_WEIGHTS)[0]
            moderated = written + timedelta(hours=rng.uniform(1, 48))
            if moderated > self.history_end:
                status = ReviewStatus.PENDING
            title, body = REVIEW_TEXTS[rating]
            await self.writer.add(
                _table(Review),
                {
                    "product_id": delivered.product_id,
                    "user_id": delivered.customer_id,
                    "rating": rating,
                    "title": title,
                    "body": body,
                    "status": status.value,
                    "moderated_by": None,
                    "moderated_at": None if status is ReviewStatus.PENDING else moderated,
                    "moderation_note": ("off-topic" if status is ReviewStatus.REJECTED else None),
                    "created_at": written,
                    "updated_at": written if status is ReviewStatus.PENDING else moderated,
                },
            )
            self.summary.reviews[status.value] += 1
        self.progress.update()

    # --- the end ---------------------------------------------------------------------------

    async def store_levels(self) -> None:
        """The cached level of each product: what its ledger adds up to."""
        table = _table(Product)
        await self.connection.execute(
            update(table)
            .where(table.c.id == bindparam("product_id"))
            .values(
                stock_on_hand=bindparam("level"),
                low_stock_threshold=bindparam("threshold"),
            ),
            [
                {
                    "product_id": product.id,
                    "level": product.level,
                    "threshold": product.reorder_at,
                }
                for product in self.products
            ],
        )
        self.summary.products = len(self.products)
        self.summary.stock_on_hand = sum(product.level for product in self.products)


def _order_total(lines: dict[_Product, int]) -> Decimal:
    return sum((product.price * quantity for product, quantity in lines.items()), Decimal("0.00"))


def _sale_reference(kind: str, sale_id: int, order_id: int | None) -> str:
    """What the stock ledger says a sale movement was for (as `common.sales` writes it)."""
    return f"{kind}:{sale_id}" + (f" order:{order_id}" if order_id is not None else "")


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


async def seed_demo(
    session: AsyncSession,
    options: DemoOptions,
    *,
    timezone: ZoneInfo,
    password_hash: str,
    progress: bool = False,
) -> DemoSummary:
    """Write the demo store into an empty catalog, in the caller's transaction.

    Raises `CatalogNotEmpty` when categories, products or sales exist already, and
    `InvalidDemoOptions` when the history would end today or later (sales are never in the future).
    """
    today = datetime.now(timezone).date()
    end = options.end or today - timedelta(days=1)
    if end >= today:
        raise InvalidDemoOptions(f"the history must end before today ({today}); got {end}")
    start = end - timedelta(days=options.days - 1)
    connection = await session.connection()
    await _ensure_empty_catalog(connection)
    store = _DemoStore(
        connection, options, timezone=timezone, start=start, end=end, progress=progress
    )
    try:
        await store.seed_catalog()
        await store.writer.flush()
        await store.seed_customers(password_hash)
        await store.seed_sales()
        await store.seed_pending_orders()
        await store.seed_reviews()
        await store.seed_wallets()
        await store.writer.flush()
        await store.store_levels()
        await recount_ratings(session)
        store.stage("rollups")
        await rebuild_rollups(session)
        store.progress.update()
    finally:
        store.progress.close()
    return store.summary
