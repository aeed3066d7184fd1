"""Categories and products. Stock is cached on `product` and explained by the ledger."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from common.db.base import MYSQL_TABLE_ARGS, Base, TimestampMixin
from common.db.types import CENT, binary_varchar

# Bounds shared by the columns and the request schemas, so input never overflows a column.
CATEGORY_NAME_MAX = 100
CATEGORY_SLUG_MAX = 120
CATEGORY_DESCRIPTION_MAX = 2000
SKU_MAX = 64
PRODUCT_NAME_MAX = 200
PRODUCT_DESCRIPTION_MAX = 5000
IMAGE_URL_MAX = 2048
# Far above any real shelf, far below INT's 2,147,483,647: sums of two levels never overflow.
MAX_STOCK = 1_000_000_000


class ProductStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Category(TimestampMixin, Base):
    __tablename__ = "category"
    __table_args__ = (
        Index("ix_category_name", "name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(CATEGORY_NAME_MAX))
    # The case-folded name: uniqueness is case-insensitive on SQLite as on MySQL.
    name_key: Mapped[str] = mapped_column(binary_varchar(CATEGORY_NAME_MAX), unique=True)
    slug: Mapped[str] = mapped_column(binary_varchar(CATEGORY_SLUG_MAX), unique=True)
    description: Mapped[str | None] = mapped_column(Text)

    products: Mapped[list[Product]] = relationship(back_populates="category", lazy="raise")


def rating_average(total: int, count: int) -> Decimal | None:
    """The mean of `count` ratings adding up to `total`, to the cent; `None` without any."""
    return (Decimal(total) / count).quantize(CENT) if count else None


class Product(TimestampMixin, Base):
    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("cost_price IS NULL OR cost_price >= 0", name="cost_price_not_negative"),
        CheckConstraint("stock_on_hand >= 0", name="stock_on_hand_not_negative"),
        CheckConstraint("low_stock_threshold >= 0", name="low_stock_threshold_not_negative"),
        CheckConstraint("status IN ('active', 'archived')", name="status_known"),
        # Listings always filter on status first, then sort or filter by one of these.
        Index("ix_product_status_name", "status", "name"),
        Index("ix_product_status_price", "status", "price"),
        Index("ix_product_status_created_at", "status", "created_at"),
        # Also covers low stock: the level and threshold compared in the index alone.
        Index(
            "ix_product_status_stock_on_hand_low_stock_threshold",
            "status",
            "stock_on_hand",
            "low_stock_threshold",
        ),
        Index("ix_product_category_id_status", "category_id", "status"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(PRODUCT_NAME_MAX))
    description: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    price: Mapped[Decimal]
    cost_price: Mapped[Decimal | None]
    image_url: Mapped[str | None] = mapped_column(String(IMAGE_URL_MAX))
    status: Mapped[str] = mapped_column(
        String(16), default=ProductStatus.ACTIVE.value, server_default=text("'active'")
    )
    low_stock_threshold: Mapped[int] = mapped_column(default=10, server_default=text("10"))
    # A cache of the ledger's sum, changed only by `common.inventory.ledger` in guarded SQL.
    stock_on_hand: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    # Units held by active reservations; loaded per query with
    # `common.inventory.availability.with_reserved()`, so the rule lives in one place.
    reserved: Mapped[int] = query_expression()
    # Approved reviews: how many, and the sum of their ratings. Kept by
    # `common.reviews.ratings` in the transaction of every review change, so a read
    # aggregates nothing.
    rating_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    rating_total: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    category: Mapped[Category] = relationship(back_populates="products", lazy="raise")

    @property
    def rating_average(self) -> Decimal | None:
        return rating_average(self.rating_total, self.rating_count)
