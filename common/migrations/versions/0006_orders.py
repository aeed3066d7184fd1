"""Orders and stock reservations: stock_reservation (+ items), customer_order, order_item,
order_status_change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 05:21:36.270445
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock_reservation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("expires_at", common.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", common.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", common.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'confirmed', 'released', 'expired')",
            name=op.f("ck_stock_reservation_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_reservation")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("stock_reservation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stock_reservation_status_expires_at", ["status", "expires_at"], unique=False
        )

    op.create_table(
        "customer_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("shipping_address", sa.String(length=1000), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", common.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", common.db.types.UTCDateTime(), nullable=False),
        sa.Column("paid_at", common.db.types.UTCDateTime(), nullable=True),
        sa.Column("updated_at", common.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded', "
            "'expired')",
            name=op.f("ck_customer_order_status_known"),
        ),
        sa.CheckConstraint("total >= 0", name=op.f("ck_customer_order_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["user_account.id"],
            name=op.f("fk_customer_order_customer_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["stock_reservation.id"],
            name=op.f("fk_customer_order_reservation_id_stock_reservation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_order")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.create_index("ix_customer_order_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_customer_order_customer_id_created_at", ["customer_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_order_reservation_id"), ["reservation_id"], unique=False
        )
        batch_op.create_index(
            "ix_customer_order_status_created_at", ["status", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_customer_order_status_expires_at", ["status", "expires_at"], unique=False
        )

    op.create_table(
        "order_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("line_total", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_item_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["customer_order.id"],
            name=op.f("fk_order_item_order_id_customer_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
            name=op.f("fk_order_item_product_id_product"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_item")),
        sa.UniqueConstraint(
            "order_id", "product_id", name=op.f("uq_order_item_order_id_product_id")
        ),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("order_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_item_product_id"), ["product_id"], unique=False)

    op.create_table(
        "order_status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", common.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_order_status_change_actor_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["customer_order.id"],
            name=op.f("fk_order_status_change_order_id_customer_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_status_change")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("order_status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_status_change_actor_id"), ["actor_id"], unique=False
        )
        batch_op.create_index(
            "ix_order_status_change_order_id_id", ["order_id", "id"], unique=False
        )

    op.create_table(
        "stock_reservation_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", common.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'confirmed', 'released', 'expired')",
            name=op.f("ck_stock_reservation_item_status_known"),
        ),
        sa.CheckConstraint(
            "quantity > 0", name=op.f("ck_stock_reservation_item_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
            name=op.f("fk_stock_reservation_item_product_id_product"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["stock_reservation.id"],
            name=op.f("fk_stock_reservation_item_reservation_id_stock_reservation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_reservation_item")),
        sa.UniqueConstraint(
            "reservation_id",
            "product_id",
            name=op.f("uq_stock_reservation_item_reservation_id_product_id"),
        ),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("stock_reservation_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stock_reservation_item_product_id_status_expires_at",
            ["product_id", "status", "expires_at"],
            unique=False,
        )


def downgrade() -> None:
    # Dropping a table drops its indexes; dropping them first fails on MySQL for the indexes
    # that back a foreign key.
    op.drop_table("stock_reservation_item")
    op.drop_table("order_status_change")
    op.drop_table("order_item")
    op.drop_table("customer_order")
    op.drop_table("stock_reservation")
