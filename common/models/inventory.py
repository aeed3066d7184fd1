"""The stock ledger (one append-only row per change of a product's stock) and reservations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from common.db.base import MYSQL_TABLE_ARGS, Base
from common.db.types import utcnow

REFERENCE_MAX = 100
ACTOR_MAX = 100
NOTE_MAX = 500


class MovementKind(StrEnum):
    INITIAL = "initial"
    RESTOCK = "restock"
    ADJUSTMENT = "adjustment"
    SALE = "sale"
    RETURN = "return"
    DAMAGE = "damage"
    CORRECTION = "correction"
    IMPORT = "import"


_KINDS = ", ".join(f"'{kind.value}'" for kind in MovementKind)


class InventoryMovement(Base):
    __tablename__ = "inventory_movement"
    __table_args__ = (
        CheckConstraint("delta <> 0", name="delta_not_zero"),
        CheckConstraint("quantity_after >= 0", name="quantity_after_not_negative"),
        CheckConstraint(f"kind IN ({_KINDS})", name="kind_known"),
        # A product's ledger page, newest first, keyed on id (keyset pagination).
        Index("ix_inventory_movement_product_id_id", "product_id", "id"),
        # As-of levels and level series: the last movement of a product at or before a time.
        Index("ix_inventory_movement_product_id_created_at", "product_id", "created_at"),
        Index("ix_inventory_movement_kind", "kind"),
        MYSQL_TABLE_ARGS,
    )

    # BIGINT on MySQL (a ledger outgrows INT); SQLite only autoincrements INTEGER keys.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))
    delta: Mapped[int]
    quantity_after: Mapped[int]
    reference: Mapped[str | None] = mapped_column(String(REFERENCE_MAX))
    actor: Mapped[str | None] = mapped_column(String(ACTOR_MAX))
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    CONFIRMED = "confirmed"
    RELEASED = "released"
    EXPIRED = "expired"


_RESERVATION_STATUSES = ", ".join(f"'{status.value}'" for status in ReservationStatus)


class StockReservation(Base):
    """Units of one or more products held until `expires_at`: a header with one item per
    product. The header is the reservation (one id, one status, one expiry); every status
    change goes through `common.reservations.service`, which copies it onto the items."""

    __tablename__ = "stock_reservation"
    __table_args__ = (
        CheckConstraint(f"status IN ({_RESERVATION_STATUSES})", name="status_known"),
        # The sweeper's scan: active reservations past their expiry.
        Index("ix_stock_reservation_status_expires_at", "status", "expires_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=ReservationStatus.ACTIVE.value)
    reference: Mapped[str | None] = mapped_column(String(REFERENCE_MAX))
    actor: Mapped[str | None] = mapped_column(String(ACTOR_MAX))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    items: Mapped[list[StockReservationItem]] = relationship(
        lazy="raise", order_by="StockReservationItem.product_id"
    )


class StockReservationItem(Base):
    """One product's held quantity. `status` and `expires_at` repeat the header's, so the
    availability of a product is one range of the (product_id, status, expires_at) index
    instead of a join over every reservation the product ever had."""

    __tablename__ = "stock_reservation_item"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(f"status IN ({_RESERVATION_STATUSES})", name="status_known"),
        UniqueConstraint("reservation_id", "product_id"),
        Index(
            "ix_stock_reservation_item_product_id_status_expires_at",
            "product_id",
            "status",
            "expires_at",
        ),
        # Which products hold stock right now (low stock): one range, read from the index.
        Index(
            "ix_stock_reservation_item_status_expires_at_product_id",
            "status",
            "expires_at",
            "product_id",
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservation_id: Mapped[int] = mapped_column(
        ForeignKey("stock_reservation.id", ondelete="CASCADE")
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="RESTRICT"))
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=ReservationStatus.ACTIVE.value)
    expires_at: Mapped[datetime]
