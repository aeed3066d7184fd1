"""Stock roll-forward: each product's level at the start of a range of store days, what every
kind of movement added or took away inside it, and the level at its end.

For every product `opening + sum of the kind columns = closing`, because a product's
movements never go back in time and `quantity_after` is the running sum of the deltas
(`common.inventory.ledger`). Opening is the level just before the first store day starts
(`levels_as_of` at local midnight minus one microsecond, the same read as
`GET /inventory?as_of=`), closing is opening plus the range's deltas, so consecutive ranges
chain: one range's closing is the next one's opening.

Both reads go through the (product_id, created_at) index, for `PRODUCTS_PER_READ` products
at a time: one descent per product for its opening, one range per product for its deltas.
The cost follows the movements inside the range and the number of products, never the
ledger's length before the range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.calendar import local_midnight
from common.inventory.levels import levels_as_of
from common.models.inventory import InventoryMovement, MovementKind

# Kinds in the order a report shows them: what came in, then what went out, then fixes.
KINDS: tuple[MovementKind, ...] = (
    MovementKind.INITIAL,
    MovementKind.RESTOCK,
    MovementKind.IMPORT,
    MovementKind.RETURN,
    MovementKind.SALE,
    MovementKind.DAMAGE,
    MovementKind.ADJUSTMENT,
    MovementKind.CORRECTION,
)
# `levels_as_of` unions one SELECT per product; SQLite allows 500 per compound statement.
PRODUCTS_PER_READ = 200


@dataclass(frozen=True)
class Window:
    """The instants a range of store days covers: [starts_at, ends_at)."""

    start: date
    end: date
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of_days(cls, start: date, end: date, timezone: ZoneInfo) -> Window:
        return cls(
            start=start,
            end=end,
            starts_at=local_midnight(start, timezone),
            ends_at=local_midnight(end + timedelta(days=1), timezone),
        )

    @property
    def opening_at(self) -> datetime:
        """The `as_of` instant of the opening level: the last microsecond before the range."""
        return self.starts_at - timedelta(microseconds=1)

    @property
    def closing_at(self) -> datetime:
        """The `as_of` instant of the closing level: the range's last microsecond."""
        return self.ends_at - timedelta(microseconds=1)


@dataclass
class ProductFlow:
    product_id: int
    opening_units: int
    by_kind: dict[MovementKind, int] = field(default_factory=dict)

    @property
    def closing_units(self) -> int:
        return self.opening_units + sum(self.by_kind.values())


async def roll_forward(
    session: AsyncSession, product_ids: Sequence[int], window: Window
) -> dict[int, ProductFlow]:
    """The flow of each product in `window`, read `PRODUCTS_PER_READ` products at a time."""
    flows: dict[int, ProductFlow] = {}
    for first in range(0, len(product_ids), PRODUCTS_PER_READ):
        chunk = list(product_ids[first : first + PRODUCTS_PER_READ])
        opening = await levels_as_of(session, chunk, window.opening_at)
        for product_id in chunk:
            flows[product_id] = ProductFlow(
                product_id=product_id,
                opening_units=opening[product_id],
                by_kind=dict.fromkeys(KINDS, 0),
            )
        movement = InventoryMovement
        sums = await session.execute(
            select(movement.product_id, movement.kind, func.sum(movement.delta))
            .where(
                movement.product_id.in_(chunk),
                movement.created_at >= window.starts_at,
                movement.created_at < window.ends_at,
            )
            .group_by(movement.product_id, movement.kind)
        )
        for product_id, kind, total in sums.tuples():
            flows[product_id].by_kind[MovementKind(kind)] = int(total)
    return flows
