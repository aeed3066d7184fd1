"""Demo data: a store with a year of history, so a new dashboard shows something at once.

`seed_demo` fills an empty catalog with categories and products (`common.demo_catalog`),
their stock ledger (initial stock, restocks, one `sale` movement per sale, `return`s for
refunds), a year of sales with weekly and seasonal patterns, refunds, and customers with
wallets. Everything is derived from one `random.Random(seed)` and the end date, so the same
options give the same rows.

Written for volume (1,000,000 sales in minutes): rows are generated in time order in Python,
with explicit ids so each ledger's `quantity_after` chain and each refund's `refund_of_id` are
known before insertion, and sent as multi-row INSERTs in batches. Stock is tracked in Python
and written to `product.stock_on_hand` once at the end; both rollups are built once at the end
with `rebuild_rollups`. The result is exactly what booking each sale through `common.sales`
would have produced: `reconcile`, `reconcile_wallets` and a rollup rebuild all agree with it.

Orders and reviews are not generated: this schema has no such tables yet.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
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
from common.demo_catalog import CATEGORIES, FIRST_NAMES, LAST_NAMES, CategorySpec
from common.models.catalog import Category, Product, ProductStatus
from common.models.identity import Role, UserAccount, WalletEntry, WalletEntryKind
from common.models.inventory import InventoryMovement, MovementKind
from common.models.sales import Sale, SaleKind
from common.sales import business_date, rebuild_rollups

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
# Tables other features own; generated only once their models exist (not in this schema).
OPTIONAL_TABLES = {"orders": "customer_order", "reviews": "review"}


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

    def __post_init__(self) -> None:
        if self.products < 1 or self.days < 1 or self.sales < 0 or self.customers < 0:
            raise InvalidDemoOptions("products and days must be at least 1; sales, customers >= 0")
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
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
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


@dataclass(frozen=True)
class _PendingRefund:
    sale_id: int
    product: _Product
    quantity: int
    unit_price: Decimal
    unit_cost: Decimal
    second_of_day: int


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
            await self._send(table)

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
        self.progress = _Steps(total=options.days + 3, enabled=progress)
        # When the store opened: products and their opening stock exist a day before sales.
        self.opened_at = self._instant(start - timedelta(days=1), 0)

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
        span = (self._instant(self.end, 86_399) - first_history).total_seconds()
        entries: list[tuple[datetime, int, WalletEntryKind, Decimal]] = []
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
            left = span - (joined - first_history).total_seconds()
            moments = sorted(
                joined + timedelta(seconds=rng.uniform(0, left)) for _ in range(rng.randint(0, 6))
            )
            balance = Decimal("0.00")
            for moment in moments:
                if balance >= 20 and rng.random() < 0.4:
                    amount = -(balance * Decimal(rng.choice((25, 50, 100))) / 100).quantize(CENT)
                    kind = WalletEntryKind.debit
                else:
                    amount = Decimal(rng.choice((20, 50, 100, 200, 500)))
                    kind = WalletEntryKind.top_up
                balance += amount
                entries.append((moment, user_id, kind, amount))
        # Ids in time order, as if the entries had been written as they happened.
        balances: dict[int, Decimal] = defaultdict(Decimal)
        first_entry = await _next_id(self.connection, _table(WalletEntry))
        for entry_id, (moment, user_id, kind, amount) in enumerate(sorted(entries), first_entry):
            balances[user_id] += amount
            await self.writer.add(
                _table(WalletEntry),
                {
                    "id": entry_id,
                    "user_id": user_id,
                    "kind": kind.value,
                    "amount": amount,
                    "balance_after": balances[user_id],
                    "reference": None,
                    "actor_id": None,
                    "note": "demo data",
                    "created_at": moment,
                },
            )
        await self.writer.flush()
        if balances:
            await self.connection.execute(
                update(_table(UserAccount))
                .where(_table(UserAccount).c.id == bindparam("user_id"))
                .values(wallet_balance=bindparam("balance")),
                [{"user_id": user, "balance": amount} for user, amount in balances.items()],
            )
        self.summary.customers = self.options.customers
        self.summary.wallet_entries = len(entries)
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
        pending: dict[int, list[_PendingRefund]] = defaultdict(list)
        self.stage("sales")
        for index, (day, count) in enumerate(zip(days, counts, strict=True)):
            neglecting = index >= len(days) - NEGLECT_DAYS
            await self._restock(day, neglecting=neglecting)
            chosen = self.rng.choices(
                self.products, cum_weights=monthly_weights[day.month], k=count
            )
            hours = self.rng.choices(range(24), cum_weights=hour_weights, k=count)
            quantities = self.rng.choices(QUANTITIES, cum_weights=quantity_weights, k=count)
            events: list[tuple[int, int, _Product | _PendingRefund, int]] = [
                (hour * 3600 + self.rng.randint(1, 3599), 0, product, quantity)
                for hour, product, quantity in zip(hours, chosen, quantities, strict=True)
            ]
            events += [(refund.second_of_day, 1, refund, 0) for refund in pending.pop(index, [])]
            events.sort(key=lambda event: (event[0], event[1]))
            for second_of_day, _, subject, quantity in events:
                moment = self._instant(day, second_of_day)
                if isinstance(subject, _PendingRefund):
                    await self._refund(subject, moment)
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
        if product.level < quantity:
            # An express delivery: the ledger never goes below zero.
            await self._move(
                product, MovementKind.RESTOCK, product.order_up_to, moment, "demo express delivery"
            )
        unit_price = product.price
        if self.rng.random() < product.discount_rate:
            unit_price = (product.price * (1 - self.rng.choice(DISCOUNTS))).quantize(CENT)
        sale_id = next(self.sale_ids)
        revenue = unit_price * quantity
        await self._move(product, MovementKind.SALE, -quantity, moment, f"sale:{sale_id}")
        await self._add_sale(
            sale_id,
            SaleKind.sale,
            product,
            quantity=quantity,
            unit_price=unit_price,
            unit_cost=product.cost,
            moment=moment,
        )
        self.summary.sales += 1
        self.summary.units_sold += quantity
        self.summary.revenue += revenue
        return sale_id, unit_price, product

    async def _refund(self, refund: _PendingRefund, moment: datetime) -> None:
        refund_id = next(self.sale_ids)
        await self._move(
            refund.product, MovementKind.RETURN, refund.quantity, moment, f"refund:{refund_id}"
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
    ) -> None:
        await self.writer.add(
            _table(Sale),
            {
                "id": sale_id,
                "kind": kind.value,
                "product_id": product.id,
                "category_id": product.category_id,
                "order_id": None,
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


def skipped_parts() -> dict[str, str]:
    """Parts of the demo story this version does not generate, and why."""
    return {
        part: (
            "no such table in this schema yet"
            if table not in Base.metadata.tables
            else "this version of seed-demo does not generate them yet"
        )
        for part, table in OPTIONAL_TABLES.items()
    }


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
        await store.store_levels()
        store.stage("rollups")
        await rebuild_rollups(session)
        store.progress.update()
    finally:
        store.progress.close()
    store.summary.skipped = skipped_parts()
    return store.summary
