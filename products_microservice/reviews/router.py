"""HTTP for reviews: a product's reviews, a customer's reviews, editing and moderation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from common.catalog.schemas import ProductId
from common.identity.access import AdminUser, CurrentUser, OptionalUser, Public
from common.identity.schemas import CustomerId
from common.models.review import ReviewStatus
from common.schemas import Page, PageDep
from common.schemas.fields import Id
from common.web import ReadSessionDep, SessionDep, problem_responses
from products_microservice.reviews import service
from products_microservice.reviews.schemas import (
    RatingSummary,
    ReviewCreate,
    ReviewId,
    ReviewModeration,
    ReviewRead,
    ReviewSort,
    ReviewUpdate,
)

product_reviews_router = APIRouter(prefix="/products/{product_id}/reviews", tags=["reviews"])
reviews_router = APIRouter(prefix="/reviews", tags=["reviews"])
customer_reviews_router = APIRouter(prefix="/customers/{customer_id}/reviews", tags=["reviews"])


@product_reviews_router.post(
    "",
    response_model=ReviewRead,
    status_code=status.HTTP_201_CREATED,
    summary="Review a product (customers; once per product); it waits for moderation",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_review(
    session: SessionDep, product_id: ProductId, payload: ReviewCreate, author: CurrentUser
) -> ReviewRead:
    return await service.create_review(session, product_id, payload, author=author)


@product_reviews_router.get(
    "",
    response_model=Page[ReviewRead],
    summary="A product's approved reviews, plus your own; admins see all",
    responses=problem_responses(404, 422),
)
async def list_product_reviews(
    session: ReadSessionDep,
    product_id: ProductId,
    page: PageDep,
    viewer: OptionalUser,
    review_status: Annotated[
        ReviewStatus | None,
        Query(alias="status", description="Only this status, among the ones you may see"),
    ] = None,
    sort: Annotated[ReviewSort, Query(description="newest first, or best rated first")] = "newest",
) -> Page[ReviewRead]:
    return await service.list_product_reviews(
        session, product_id, viewer=viewer, status=review_status, sort=sort, page=page
    )


@product_reviews_router.get(
    "/summary",
    response_model=RatingSummary,
    summary="Average, count and 1-5 histogram of a product's approved reviews",
    responses=problem_responses(404, 422),
)
async def rating_summary(
    session: ReadSessionDep, product_id: ProductId, _public: Public
) -> RatingSummary:
    return await service.rating_summary(session, product_id)


@reviews_router.patch(
    "/{review_id}",
    response_model=ReviewRead,
    summary="Edit a review (its author, which sends it back to moderation, or an admin)",
    responses=problem_responses(401, 403, 404, 422),
)
async def update_review(
    session: SessionDep, review_id: ReviewId, payload: ReviewUpdate, actor: CurrentUser
) -> ReviewRead:
    return await service.update_review(session, review_id, payload, actor=actor)


@reviews_router.delete(
    "/{review_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    summary="Delete a review (its author or an admin)",
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_review(session: SessionDep, review_id: ReviewId, actor: CurrentUser) -> None:
    await service.delete_review(session, review_id, actor=actor)


@customer_reviews_router.get(
    "",
    response_model=Page[ReviewRead],
    summary="A customer's reviews in every status, newest first (the customer or an admin)",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_customer_reviews(
    session: ReadSessionDep, customer_id: CustomerId, page: PageDep, viewer: CurrentUser
) -> Page[ReviewRead]:
    return await service.list_customer_reviews(session, customer_id, viewer=viewer, page=page)


@reviews_router.get(
    "",
    response_model=Page[ReviewRead],
    summary="Moderation queue: reviews of one status (default pending), oldest first",
    responses=problem_responses(401, 403, 422),
)
async def list_reviews(
    session: ReadSessionDep,
    page: PageDep,
    admin: AdminUser,
    review_status: Annotated[ReviewStatus, Query(alias="status")] = ReviewStatus.PENDING,
    product_id: Annotated[Id | None, Query()] = None,
    user_id: Annotated[Id | None, Query()] = None,
) -> Page[ReviewRead]:
    filters = service.ReviewFilter(status=review_status, product_id=product_id, user_id=user_id)
    return await service.list_reviews(session, filters, page, viewer=admin)


@reviews_router.post(
    "/{review_id}/moderation",
    response_model=ReviewRead,
    summary="Approve or reject a review; records the moderator and the time",
    responses=problem_responses(401, 403, 404, 422),
)
async def moderate_review(
    session: SessionDep, review_id: ReviewId, payload: ReviewModeration, admin: AdminUser
) -> ReviewRead:
    return await service.moderate_review(session, review_id, payload, moderator=admin)
