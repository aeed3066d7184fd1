"""The stock ledger: one append-only row per change of a product's stock."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

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
