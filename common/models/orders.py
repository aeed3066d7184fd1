"""Customer orders, their lines (prices as they were when ordered) and status history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
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
        # Rebuilding and checking the order rollups of a range of days.
        Index("ix_customer_order_paid_at", "paid_at"),
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
        # Cancellations and refunds of a range of days (the order rollups' rebuild).
        Index("ix_order_status_change_to_status_created_at", "to_status", "created_at"),
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


class _OrderCounters:
    """What a day of orders adds up to (`order_daily`), the columns `common.orders.rollups`
    accumulates."""

    orders_placed: Mapped[int] = mapped_column(Integer, default=0)
    orders_paid: Mapped[int] = mapped_column(Integer, default=0)
    # The totals of the orders paid that day, whether refunded later or not.
    paid_revenue: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    units_paid: Mapped[int] = mapped_column(Integer, default=0)
    # Unpaid orders cancelled that day (expired ones are not cancellations).
    orders_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    # Paid orders refunded that day, and their totals.
    orders_refunded: Mapped[int] = mapped_column(Integer, default=0)
    refunded_revenue: Mapped[Decimal] = mapped_column(default=Decimal("0"))


class OrderDaily(_OrderCounters, Base):
    """Per store-local day: orders placed, paid, cancelled and refunded that day.

    Kept in the same transaction as every placement, payment, cancellation and refund, and
    rebuildable from `customer_order` and `order_status_change`. One row a day, so a year of
    the orders report reads 365 rows whatever the volume.
    """

    __tablename__ = "order_daily"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)


class CustomerDaily(Base):
    """Per store-local day and customer who paid that day: the orders paid, what they paid,
    and how much of it was refunded since (charged back to the day of payment).

    The customers, top customers and cohort reports read this, never `customer_order`. Kept
    with the payment and the refund, rebuildable like `order_daily`.
    """

    __tablename__ = "customer_daily"
    __table_args__ = (Index(None, "customer_id", "business_date"), MYSQL_TABLE_ARGS)

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    # No foreign key, like the sales rollups' category: checking one would take a shared lock
    # on the account inside a rebuild that holds the day's row, while a placement holds the
    # account and waits for that row (a deadlock). Accounts are never deleted.
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    orders_paid: Mapped[int] = mapped_column(Integer, default=0)
    paid_spend: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    refunded_spend: Mapped[Decimal] = mapped_column(default=Decimal("0"))
