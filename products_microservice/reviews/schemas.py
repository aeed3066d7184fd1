"""Requests and responses of reviews."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import Path
from pydantic import Field, StringConstraints

from common.models.review import (
    MAX_RATING,
    MIN_RATING,
    MODERATION_NOTE_MAX,
    REVIEW_BODY_MAX,
    REVIEW_TITLE_MAX,
    ReviewStatus,
)
from common.schemas import Schema
from common.schemas.base import PatchSchema
from common.schemas.fields import MAX_ID, TEXT_PATTERN


# Stored exactly as given (no trimming, no HTML escaping: clients render it as text), but a NUL
# byte is never text, and an all-blank review says nothing: `TEXT_PATTERN` refuses both.
def _plain_text(max_length: int) -> StringConstraints:
    return StringConstraints(min_length=1, max_length=max_length, pattern=TEXT_PATTERN)


Rating = Annotated[int, Field(ge=MIN_RATING, le=MAX_RATING)]
ReviewTitle = Annotated[str, _plain_text(REVIEW_TITLE_MAX)]
ReviewBody = Annotated[str, _plain_text(REVIEW_BODY_MAX)]
ModerationNote = Annotated[str, _plain_text(MODERATION_NOTE_MAX)]
ReviewSort = Literal["newest", "rating"]


# The path parameter of `/reviews/{review_id}/...`.
ReviewId = Annotated[int, Path(ge=1, le=MAX_ID, description="Review id")]


class ReviewCreate(Schema):
    rating: Rating
    title: ReviewTitle | None = None
    body: ReviewBody


class ReviewUpdate(PatchSchema):
    """Any subset; `title: null` removes the title. An author's edit goes back to moderation."""

    clearable = frozenset({"title"})

    rating: Rating | None = None
    title: ReviewTitle | None = None
    body: ReviewBody | None = None


class ModerationDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ReviewModeration(Schema):
    decision: ModerationDecision
    note: ModerationNote | None = None


class ReviewRead(Schema):
    id: int
    product_id: int
    user_id: int
    rating: int
    title: str | None
    body: str
    status: ReviewStatus
    moderated_by: int | None = Field(description="The moderating admin; admins only")
    moderated_at: datetime | None
    moderation_note: str | None = Field(
        description="Why it was approved or rejected; for its author and admins only"
    )
    created_at: datetime
    updated_at: datetime


class RatingBucket(Schema):
    rating: int
    count: int


class RatingSummary(Schema):
    product_id: int
    rating_count: int = Field(description="Approved reviews")
    rating_average: Decimal | None = Field(description="Mean approved rating; null without any")
    histogram: list[RatingBucket] = Field(description="Approved reviews per rating, 1 to 5")
