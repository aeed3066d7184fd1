"""Reviews: who sees which, the moderation flow, and the rating aggregates.

Visibility, in one place (`_visible_to`): everyone sees approved reviews; a customer also sees
their own in any status; admins see all. A review the caller may not see does not exist for
them (404), so nobody learns that another customer's pending or rejected review is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.dialect import begin_writing
from common.db.pagination import paginate
from common.db.transaction import flush_unique
from common.db.types import utcnow
from common.errors import Conflict, Forbidden, NotFound
from common.events.outbox import emit, entity
from common.events.types import EventType
from common.identity.access import Principal
from common.inventory.errors import ProductNotFound
from common.models.catalog import Product, ProductStatus
from common.models.identity import UserAccount
from common.models.review import MAX_RATING, MIN_RATING, Review, ReviewStatus
from common.reviews.ratings import counted, move_rating, rating_average
from common.schemas import Page, PageParams
from products_microservice.reviews.schemas import (
    ModerationDecision,
    RatingBucket,
    RatingSummary,
    ReviewCreate,
    ReviewModeration,
    ReviewRead,
    ReviewSort,
    ReviewUpdate,
)


class ReviewNotFound(NotFound):
    code = "review_not_found"
    title = "Review not found"


class ReviewExists(Conflict):
    code = "review_exists"
    title = "You have already reviewed this product"


class ProductArchived(Conflict):
    code = "product_archived"
    title = "The product is archived"


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    title = "Customer not found"


# --- ratings: computed from approved reviews, in SQL ------------------------------------------


async def rating_summary(session: AsyncSession, product_id: int) -> RatingSummary:
    await _product_status(session, product_id)
    counts = dict(
        (
            await session.execute(
                select(Review.rating, func.count())
                .where(
                    Review.product_id == product_id,
                    Review.status == ReviewStatus.APPROVED.value,
                )
                .group_by(Review.rating)
            )
        )
        .tuples()
        .all()
    )
    total = sum(counts.values())
    points = sum(rating * count for rating, count in counts.items())
    return RatingSummary(
        product_id=product_id,
        rating_count=total,
        rating_average=rating_average(points, total),
        histogram=[
            RatingBucket(rating=rating, count=counts.get(rating, 0))
            for rating in range(MIN_RATING, MAX_RATING + 1)
        ],
    )


# --- visibility ------------------------------------------------------------------------------


def _visible_to(viewer: Principal | None) -> ColumnElement[bool]:
    if viewer is not None and viewer.is_admin:
        return true()
    approved = Review.status == ReviewStatus.APPROVED.value
    return approved if viewer is None else or_(approved, Review.user_id == viewer.id)


def for_viewer(review: Review | ReviewRead, viewer: Principal | None) -> ReviewRead:
    """Who moderated is for admins; why, for admins and the author."""
    read = ReviewRead.model_validate(review)
    if viewer is not None and viewer.is_admin:
        return read
    hidden: dict[str, Any] = {"moderated_by": None}
    if viewer is None or viewer.id != read.user_id:
        hidden["moderation_note"] = None
    return read.model_copy(update=hidden)


async def _paginate_for_viewer(
    session: AsyncSession, statement: Select[Any], page: PageParams, viewer: Principal | None
) -> Page[ReviewRead]:
    result = await paginate(session, statement, page, schema=ReviewRead)
    result.items = [for_viewer(review, viewer) for review in result.items]
    return result


# --- reading ---------------------------------------------------------------------------------


async def _product_status(session: AsyncSession, product_id: int) -> str:
    product_status = await session.scalar(select(Product.status).where(Product.id == product_id))
    if product_status is None:
        raise ProductNotFound(f"No product with id {product_id}.")
    return product_status


async def list_product_reviews(
    session: AsyncSession,
    product_id: int,
    *,
    viewer: Principal | None,
    status: ReviewStatus | None,
    sort: ReviewSort,
    page: PageParams,
) -> Page[ReviewRead]:
    """Approved reviews for everyone, plus the caller's own; admins see all. `status` narrows
    what the caller may see, it never widens it."""
    await _product_status(session, product_id)
    statement = select(Review).where(Review.product_id == product_id, _visible_to(viewer))
    if status is not None:
        statement = statement.where(Review.status == status.value)
    order: tuple[Any, ...] = (Review.created_at.desc(), Review.id.desc())
    if sort == "rating":
        order = (Review.rating.desc(), *order)
    return await _paginate_for_viewer(session, statement.order_by(*order), page, viewer)


@dataclass(frozen=True)
class ReviewFilter:
    status: ReviewStatus | None = ReviewStatus.PENDING
    product_id: int | None = None
    user_id: int | None = None


async def list_reviews(
    session: AsyncSession, filters: ReviewFilter, page: PageParams, *, viewer: Principal
) -> Page[ReviewRead]:
    """The moderation queue: oldest first, so nothing waits forever."""
    statement = select(Review)
    if filters.status is not None:
        statement = statement.where(Review.status == filters.status.value)
    if filters.product_id is not None:
        statement = statement.where(Review.product_id == filters.product_id)
    if filters.user_id is not None:
        statement = statement.where(Review.user_id == filters.user_id)
    statement = statement.order_by(Review.created_at, Review.id)
    return await _paginate_for_viewer(session, statement, page, viewer)


async def list_customer_reviews(
    session: AsyncSession, customer_id: int, *, viewer: Principal, page: PageParams
) -> Page[ReviewRead]:
    """A customer's own reviews in every status, newest first (the customer or an admin)."""
    if not viewer.can_act_for(customer_id):
        raise Forbidden("Only the customer or an admin may list these reviews.")
    if await session.scalar(select(UserAccount.id).where(UserAccount.id == customer_id)) is None:
        raise CustomerNotFound(f"No customer with id {customer_id}.")
    statement = (
        select(Review)
        .where(Review.user_id == customer_id)
        .order_by(Review.created_at.desc(), Review.id.desc())
    )
    return await _paginate_for_viewer(session, statement, page, viewer)


# --- writing ---------------------------------------------------------------------------------


async def create_review(
    session: AsyncSession, product_id: int, payload: ReviewCreate, *, author: Principal
) -> ReviewRead:
    if author.is_admin:
        # Admins moderate reviews; a review by the shop itself is not a customer's voice.
        raise Forbidden("Reviews are written by customers; admins moderate them.")
    if await _product_status(session, product_id) == ProductStatus.ARCHIVED.value:
        raise ProductArchived(f"Product {product_id} is archived and takes no new reviews.")
    existing = await session.scalar(
        select(Review.id).where(Review.product_id == product_id, Review.user_id == author.id)
    )
    if existing is not None:
        raise _review_exists(existing)
    review = Review(
        product_id=product_id,
        user_id=author.id,
        rating=payload.rating,
        title=payload.title,
        body=payload.body,
        status=ReviewStatus.PENDING.value,
    )
    session.add(review)
    # A concurrent second review by the same customer loses on the unique key. MySQL names the
    # composite key `uq_review_product_id_user_id`; SQLite cannot race here (one writer).
    await flush_unique(session, "review", {"product_id_user_id": lambda: _review_exists(None)})
    emit(session, EventType.REVIEW_SUBMITTED, entity(review))
    return for_viewer(review, author)


def _review_exists(review_id: int | None) -> ReviewExists:
    return ReviewExists(
        "Each customer reviews a product once; edit your review instead.", review_id=review_id
    )


async def _locked_review(session: AsyncSession, review_id: int) -> Review:
    """The review under its row lock, held until commit: whatever one change of it does to
    its product's rating counters, the next change sees (`common.reviews.ratings`)."""
    await begin_writing(session, cast(Table, Review.__table__), [review_id])
    review = await session.get(Review, review_id, with_for_update=True, populate_existing=True)
    if review is None:
        raise ReviewNotFound(f"No review with id {review_id}.")
    return review


async def _review_for_change(session: AsyncSession, review_id: int, actor: Principal) -> Review:
    """The review, when `actor` is its author or an admin. Someone else's review is 403 when
    they can see it (approved), else 404 like a missing one."""
    review = await _locked_review(session, review_id)
    if actor.can_act_for(review.user_id):
        return review
    if review.status == ReviewStatus.APPROVED.value:
        raise Forbidden("Only its author or an admin may change a review.")
    raise ReviewNotFound(f"No review with id {review_id}.")


async def update_review(
    session: AsyncSession, review_id: int, payload: ReviewUpdate, *, actor: Principal
) -> ReviewRead:
    review = await _review_for_change(session, review_id, actor)
    changes = {
        field: value
        for field, value in payload.model_dump(exclude_unset=True).items()
        if getattr(review, field) != value
    }
    if changes:
        before = counted(review.status, review.rating)
        for field, value in changes.items():
            setattr(review, field, value)
        if review.user_id == actor.id:
            # New words need a new moderation: the old decision was about other text.
            review.status = ReviewStatus.PENDING.value
            review.moderated_by = None
            review.moderated_at = None
            review.moderation_note = None
        await session.flush()
        await move_rating(session, review.product_id, before, counted(review.status, review.rating))
    return for_viewer(review, actor)


async def delete_review(session: AsyncSession, review_id: int, *, actor: Principal) -> None:
    review = await _review_for_change(session, review_id, actor)
    await session.delete(review)
    await session.flush()
    await move_rating(session, review.product_id, counted(review.status, review.rating), (0, 0))


async def moderate_review(
    session: AsyncSession, review_id: int, decision: ReviewModeration, *, moderator: Principal
) -> ReviewRead:
    """Approve or reject (again, if need be); the latest decision is the one recorded."""
    review = await _locked_review(session, review_id)
    before = counted(review.status, review.rating)
    status_before = review.status
    approved = decision.decision == ModerationDecision.APPROVE
    review.status = (ReviewStatus.APPROVED if approved else ReviewStatus.REJECTED).value
    review.moderated_by = moderator.id
    review.moderated_at = utcnow()
    review.moderation_note = decision.note
    await session.flush()
    await move_rating(session, review.product_id, before, counted(review.status, review.rating))
    emit(
        session,
        EventType.REVIEW_MODERATED,
        entity(review),
        changes={"status": [status_before, review.status]},
    )
    return for_viewer(review, moderator)
