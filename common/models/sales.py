"""Sales transactions and their daily rollup."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import MYSQL_TABLE_ARGS, Base
from common.db.types import utcnow


class SaleKind(StrEnum):
    sale = "sale"
    refund = "refund"


class Sale(Base):
    """One product sold (positive quantity) or refunded (negative quantity), with the prices,
    cost and category as they were at that moment."""

    __tablename__ = "sale"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        CheckConstraint(
            "(kind = 'sale' AND quantity > 0) OR (kind = 'refund' AND quantity < 0)",
            name="quantity_sign_matches_kind",
        ),
        Index(None, "product_id", "sold_at"),
        Index(None, "category_id", "sold_at"),
        Index(None, "sold_at"),
        Index(None, "revenue"),
        Index(None, "business_date", "product_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[SaleKind] = mapped_column(String(16))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="RESTRICT"))
    # A snapshot, not a reference: history keeps the category the product had when it sold.
    category_id: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # For a refund: the sale it gives money back for (a sale is never refunded twice over).
    refund_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("sale.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal]
    unit_cost: Mapped[Decimal]
    revenue: Mapped[Decimal]
    cost: Mapped[Decimal]
    sold_at: Mapped[datetime]
    business_date: Mapped[date] = mapped_column(Date)
    actor: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class _DailyMetrics:
    """What a rollup row adds up: the same columns at every level."""

    units_sold: Mapped[int] = mapped_column(Integer, default=0)
    units_refunded: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    refunds: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    # Net cost: cost of goods sold minus cost of goods that came back.
    cost: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    sales_count: Mapped[int] = mapped_column(Integer, default=0)
    refund_count: Mapped[int] = mapped_column(Integer, default=0)


class SalesDaily(_DailyMetrics, Base):
    """Per store-local day, product and category snapshot: what `sale` adds up to.

    Upserted in the same transaction as every sale, and rebuildable from `sale`. Keyed by the
    category snapshot too, so a product that changes category mid-day still adds up per
    category exactly as the raw rows do. Reports filtered by product read this table.
    """

    __tablename__ = "sales_daily"
    __table_args__ = (
        Index(None, "product_id", "business_date"),
        Index(None, "category_id", "business_date"),
        MYSQL_TABLE_ARGS,
    )

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.id", ondelete="RESTRICT"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class SalesDailyCategory(_DailyMetrics, Base):
    """Per store-local day and category: `sales_daily` added up once more.

    A year of a large catalog is a few thousand rows here instead of hundreds of thousands, so
    reports that do not filter by product (the dashboard's default) stay fast at any volume.
    Written in the same transaction as `sales_daily`, rebuildable from `sale`.
    """

    __tablename__ = "sales_daily_category"
    __table_args__ = (Index(None, "category_id", "business_date"), MYSQL_TABLE_ARGS)

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    category_id: Mapped[int] = mapped_column(Integer, primary_key=True)
