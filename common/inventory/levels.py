"""Stock levels read from the ledger: the level at an instant, and a series by store-day bucket.

A product's movements never go back in time (`common.inventory.ledger` refuses a backdated
one), so "the last movement at or before T" is the level at T.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    bindparam,
    func,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from common.calendar import DateRange, bucket_count, bucket_starts, local_midnight, next_bucket
from common.db.types import UTCDateTime
from common.errors import InvalidInput
from common.inventory.errors import ProductNotFound
from common.models.catalog import Product
from common.models.inventory import InventoryMovement

LevelInterval = Literal["day", "week", "month"]
LEVEL_INTERVALS: tuple[LevelInterval, ...] = ("day", "week", "month")
# A chart of more points than this is a request mistake, not a chart.
MAX_LEVEL_POINTS = 1000


def _last_level(
    product_id: ColumnElement[int], at: ColumnElement[datetime] | datetime
) -> Select[tuple[int]]:
    return (
        select(InventoryMovement.quantity_after)
        .where(InventoryMovement.product_id == product_id, InventoryMovement.created_at <= at)
        .order_by(InventoryMovement.created_at.desc(), InventoryMovement.id.desc())
        .limit(1)
    )


@lru_cache(maxsize=256)
def _levels_statement(count: int) -> CompoundSelect[Any]:
    """`levels_as_of`'s statement for `count` products, built once per size: assembling a
    few hundred SELECTs costs more than the database takes to answer them."""
    at = bindparam("at", type_=UTCDateTime())
    parts = []
    for index in range(count):
        product_id = bindparam(f"product_{index}", type_=Integer())
        parts.append(
            select(
                product_id.label("product_id"),
                _last_level(product_id, at).scalar_subquery().label("level"),
            )
        )
    return union_all(*parts)


def level_as_of_expression(at: datetime) -> ColumnElement[int]:
    """`Product`'s level at `at` as a correlated subquery, for filtering on past levels.

    MySQL and MariaDB can only seek a correlated subquery to the product, then walk back from
    its newest movement to `at`; `levels_as_of` seeks straight to the row and is preferred
    wherever the products are known first.
    """
    last = _last_level(Product.id.expression, at).correlate(Product).scalar_subquery()
    return func.coalesce(last, 0)


async def levels_as_of(
    session: AsyncSession, product_ids: Sequence[int], at: datetime
) -> dict[int, int]:
    """Each product's level at `at`: its last movement's `quantity_after` at or before it (0
    before any). One statement; for each product one descent of the (product_id, created_at)
    index to exactly that row, however long the ledger."""
    if not product_ids:
        return {}
    unique_ids = list(dict.fromkeys(product_ids))
    params: dict[str, Any] = {f"product_{i}": pid for i, pid in enumerate(unique_ids)}
    rows = (await session.execute(_levels_statement(len(unique_ids)), {**params, "at": at})).all()
    return {int(row.product_id): int(row.level or 0) for row in rows}


async def level_as_of(session: AsyncSession, *, product_id: int, at: datetime) -> int:
    if await session.scalar(select(Product.id).where(Product.id == product_id)) is None:
        raise ProductNotFound(f"No product with id {product_id}.")
    return (await levels_as_of(session, [product_id], at))[product_id]


@dataclass(frozen=True)
class LevelPoint:
    period_start: date  # the bucket's first local day
    level: int  # the level at the end of the bucket (or at `end` for the last one)


async def level_series(
    session: AsyncSession,
    *,
    product_id: int,
    interval: LevelInterval,
    start: datetime,
    end: datetime,
    timezone: ZoneInfo,
) -> list[LevelPoint]:
    """The level at the end of each bucket, carried forward through buckets without movement.

    Reads one opening level and the movements inside the range, both through the
    (product_id, created_at) index: the cost follows the range, never the whole ledger.
    """
    if end < start:
        raise InvalidInput("`end` must not be before `start`.")
    period = DateRange(start=start.astimezone(timezone).date(), end=end.astimezone(timezone).date())
    if bucket_count(interval, period) > MAX_LEVEL_POINTS:
        raise InvalidInput(
            f"More than {MAX_LEVEL_POINTS} {interval} buckets; narrow the range.",
            max_points=MAX_LEVEL_POINTS,
        )
    starts = bucket_starts(interval, period)
    edges = [local_midnight(next_bucket(interval, day), timezone) for day in starts]
    # The last bucket may still be running: its level is the one at `end`.
    edges[-1] = min(edges[-1], end + timedelta(microseconds=1))
    opening_at = local_midnight(starts[0], timezone) - timedelta(microseconds=1)
    level = (await levels_as_of(session, [product_id], opening_at))[product_id]
    movements = (
        await session.execute(
            select(InventoryMovement.created_at, InventoryMovement.quantity_after)
            .where(
                InventoryMovement.product_id == product_id,
                InventoryMovement.created_at > opening_at,
                InventoryMovement.created_at < edges[-1],
            )
            .order_by(InventoryMovement.created_at, InventoryMovement.id)
        )
    ).all()
    points = []
    cursor = 0
    for day, edge in zip(starts, edges, strict=True):
        while cursor < len(movements) and movements[cursor].created_at < edge:
            level = movements[cursor].quantity_after
            cursor += 1
        points.append(LevelPoint(period_start=day, level=level))
    return points
