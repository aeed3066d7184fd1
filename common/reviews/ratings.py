"""A product's rating, kept on its row: how many approved reviews it has and the sum of their
ratings, the way `stock_on_hand` keeps the sum of the stock ledger.

- Every change to a review that adds or removes an approved rating (moderation, an author's
  edit sending it back to moderation, an admin's edit of an approved rating, deletion) moves
  the counters in the same transaction, with one relative `UPDATE`, while it holds the
  review's row lock: two changes of one review cannot both count it.
- A read of a product needs no aggregate over its reviews, however many there are.
- `rating_problems` proves the counters equal what the reviews add up to (`check-ledger`
  reports them); `recount_ratings` rewrites them from the reviews (bulk loads use it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from common.models.catalog import Product, rating_average
from common.models.review import Review, ReviewStatus

__all__ = ["counted", "move_rating", "rating_average", "rating_problems", "recount_ratings"]


def counted(status: str, rating: int) -> tuple[int, int]:
    """What one review adds to its product's (count, total): only approved ones count."""
    return (1, rating) if status == ReviewStatus.APPROVED.value else (0, 0)


_MOVE_COUNTERS = (
    update(Product)
    .where(Product.id == bindparam("product_id", type_=Integer()))
    .values(
        rating_count=Product.rating_count + bindparam("count_delta", type_=Integer()),
        rating_total=Product.rating_total + bindparam("total_delta", type_=Integer()),
    )
    .execution_options(synchronize_session=False)
)


async def move_rating(
    session: AsyncSession, product_id: int, before: tuple[int, int], after: tuple[int, int]
) -> None:
    """Apply one review's change from `before` to `after` (each from `counted`). The caller
    holds the review's row lock."""
    count_delta, total_delta = after[0] - before[0], after[1] - before[1]
    if count_delta or total_delta:
        await session.execute(
            _MOVE_COUNTERS,
            {"product_id": product_id, "count_delta": count_delta, "total_delta": total_delta},
        )


def _approved_of_product() -> list[Any]:
    return [Review.product_id == Product.id, Review.status == ReviewStatus.APPROVED.value]


def _true_count() -> Any:
    return select(func.count()).where(*_approved_of_product()).correlate(Product).scalar_subquery()


def _true_total() -> Any:
    return (
        select(func.coalesce(func.sum(Review.rating), 0))
        .where(*_approved_of_product())
        .correlate(Product)
        .scalar_subquery()
    )


async def recount_ratings(connection: AsyncSession | AsyncConnection) -> None:
    """Rewrite every product's counters from its reviews (after a bulk load of reviews)."""
    await connection.execute(
        update(Product)
        .values(rating_count=_true_count(), rating_total=_true_total())
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class RatingProblem:
    product_id: int
    sku: str
    counted: tuple[int, int]
    actual: tuple[int, int]


async def rating_problems(session: AsyncSession) -> list[RatingProblem]:
    """Products whose (count, total) differ from their approved reviews'; none, normally."""
    count, total = _true_count(), _true_total()
    rows = await session.execute(
        select(Product.id, Product.sku, Product.rating_count, Product.rating_total, count, total)
        .where((Product.rating_count != count) | (Product.rating_total != total))
        .order_by(Product.id)
    )
    return [
        RatingProblem(
            product_id=row[0], sku=row[1], counted=(row[2], row[3]), actual=(row[4], row[5])
        )
        for row in rows
    ]
