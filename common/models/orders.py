"""Customer orders, their lines (prices as they were when ordered) and status history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from common.db.base import MYSQL_TABLE_ARGS, Base
from common.db.types import utcnow

SHIPPING_ADDRESS_MAX = 1000
NOTES_MAX = 2000
REASON_MAX = 500
MAX_ORDER_LINES = 100


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    EXPIRED = "expired"


_STATUSES = ", ".join(f"'{status.value}'" for status in OrderStatus)


class CustomerOrder(Base):
    __tablename__ = "customer_order"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        # A customer's orders, newest first; the admin list filtered by status and date; the
        # sweeper's scan of pending orders past their expiry.
        Index("ix_customer_order_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_customer_order_status_created_at", "status", "created_at"),
        Index("ix_customer_order_status_expires_at", "status", "expires_at"),
        Index("ix_customer_order_created_at", "created_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.PENDING.value)
    total: Mapped[Decimal]
    shipping_address: Mapped[str] = mapped_column(String(SHIPPING_ADDRESS_MAX))
    notes: Mapped[str | None] = mapped_column(String(NOTES_MAX))
    # The stock held for this order while it is pending; confirmed when it is paid.
    reservation_id: Mapped[int] = mapped_column(
        ForeignKey("stock_reservation.id", ondelete="RESTRICT"), index=True
    )
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    items: Mapped[list[OrderItem]] = relationship(lazy="raise", order_by="OrderItem.id")


class OrderItem(Base):
    __tablename__ = "order_item"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        UniqueConstraint("order_id", "product_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[int]
    # Snapshots: later price changes never change what the customer agreed to pay.
    unit_price: Mapped[Decimal]
    line_total: Mapped[Decimal]


class OrderStatusChange(Base):
    """Append-only: every status an order entered, who moved it there and why."""

    __tablename__ = "order_status_change"
    __table_args__ = (
        Index("ix_order_status_change_order_id_id", "order_id", "id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    # Null when the system made the change (the sweeper expiring an order).
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT"), index=True
    )
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
