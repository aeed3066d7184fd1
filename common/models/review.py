"""Product reviews, written by customers and published only after an admin approves them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import MYSQL_TABLE_ARGS, Base, TimestampMixin

REVIEW_TITLE_MAX = 200
REVIEW_BODY_MAX = 5000
MODERATION_NOTE_MAX = 500
MIN_RATING = 1
MAX_RATING = 5


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


_STATUSES = ", ".join(f"'{status.value}'" for status in ReviewStatus)


class Review(TimestampMixin, Base):
    __tablename__ = "review"
    __table_args__ = (
        UniqueConstraint("product_id", "user_id"),
        CheckConstraint(f"rating BETWEEN {MIN_RATING} AND {MAX_RATING}", name="rating_range"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),
        # A product's reviews by status, newest first (the public listing).
        Index("ix_review_product_id_status_created_at", "product_id", "status", "created_at"),
        # Covers the rating aggregates (count, average, histogram over approved reviews) and
        # the listing sorted by rating without reading the rows themselves.
        Index(
            "ix_review_product_id_status_rating_created_at",
            "product_id",
            "status",
            "rating",
            "created_at",
        ),
        # The moderation queue: one status, oldest first.
        Index("ix_review_status_created_at", "status", "created_at"),
        # A customer's reviews, newest first.
        Index("ix_review_user_id_created_at", "user_id", "created_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    rating: Mapped[int]
    title: Mapped[str | None] = mapped_column(String(REVIEW_TITLE_MAX))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.PENDING.value)
    moderated_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    moderated_at: Mapped[datetime | None]
    moderation_note: Mapped[str | None] = mapped_column(String(MODERATION_NOTE_MAX))
