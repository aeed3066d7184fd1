"""What the seeding stages share: one random generator, the writer, the store so far, the ids.

Everything is derived from one `random.Random(seed)` and the end date, so the same options give
the same rows; the stages draw from it in a fixed order (see `generator.seed_demo`). Stock is
tracked here in Python (`DemoProduct.level`) and written to `product.stock_on_hand` at the end.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.ext.asyncio import AsyncConnection

from common.models.identity import WalletEntryKind
from common.ops.demo.catalog import CategorySpec
from common.ops.demo.options import DemoOptions, DemoSummary
from common.ops.demo.writer import BatchWriter


# Identity equality: a product is one object for the whole run, and a key of order lines.
@dataclass(eq=False)
class DemoProduct:
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
class PendingRefund:
    sale_id: int
    product: DemoProduct
    quantity: int
    unit_price: Decimal
    unit_cost: Decimal
    second_of_day: int
    order_id: int | None = None


@dataclass(frozen=True)
class WalletEvent:
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
class Delivered:
    customer_id: int
    product_id: int
    at: datetime


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainder: exact and deterministic)."""
    whole = sum(weights)
    shares = [total * weight / whole for weight in weights]
    counts = [math.floor(share) for share in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


class Steps:
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


@dataclass(eq=False)
class DemoStore:
    """The demo store being built: passed to each stage, which adds its rows and records."""

    connection: AsyncConnection
    options: DemoOptions
    timezone: ZoneInfo
    start: date
    end: date
    show_progress: InitVar[bool]
    rng: random.Random = field(init=False)
    writer: BatchWriter = field(init=False)
    summary: DemoSummary = field(init=False)
    progress: Steps = field(init=False)
    # When the store opened: products and their opening stock exist a day before sales.
    opened_at: datetime = field(init=False)
    history_end: datetime = field(init=False)
    products: list[DemoProduct] = field(default_factory=list)
    category_specs: dict[int, CategorySpec] = field(default_factory=dict)
    # The best seller of each category, bought instead of a product sold out for good.
    fallback: dict[int, DemoProduct] = field(default_factory=dict)
    sale_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    movement_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    order_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    reservation_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # Customers by the time they joined, so orders come from people who already had an
    # account.
    customers: list[tuple[datetime, int]] = field(default_factory=list)
    wallet_events: list[WalletEvent] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)
    # Refunds due, by day index of the history.
    pending_refunds: dict[int, list[PendingRefund]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def __post_init__(self, show_progress: bool) -> None:
        # Demo data, not secrets: a seeded generator is what makes the store reproducible.
        self.rng = random.Random(self.options.seed)  # noqa: S311
        self.writer = BatchWriter(self.connection)
        self.summary = DemoSummary(start=self.start, end=self.end)
        self.opened_at = self.instant(self.start - timedelta(days=1), 0)
        self.history_end = self.instant(self.end, 86_399)
        self.progress = Steps(total=self.options.days + 5, enabled=show_progress)

    def instant(self, day: date, second_of_day: int) -> datetime:
        local = datetime.combine(day, time(), self.timezone) + timedelta(seconds=second_of_day)
        return local.astimezone(UTC)

    def stage(self, description: str) -> None:
        self.progress.set_description(description)
