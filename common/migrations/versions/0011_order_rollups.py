"""Order and customer rollups: `order_daily` (per store day), `customer_daily` (per store day
and paying customer), the accounts' lifetime order figures, and the indexes their rebuild
reads by. The new rows start empty: `rebuild-rollups` fills them from the orders.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = common.db.types.Money(precision=12, scale=2)
ACCOUNT_INDEXES = ("orders_count", "lifetime_spend", "last_order_at", "first_paid_date")


def upgrade() -> None:
    op.create_table(
        "order_daily",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("orders_placed", sa.Integer(), nullable=False),
        sa.Column("orders_paid", sa.Integer(), nullable=False),
        sa.Column("paid_revenue", MONEY, nullable=False),
        sa.Column("units_paid", sa.Integer(), nullable=False),
        sa.Column("orders_cancelled", sa.Integer(), nullable=False),
        sa.Column("orders_refunded", sa.Integer(), nullable=False),
        sa.Column("refunded_revenue", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("business_date", name=op.f("pk_order_daily")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "customer_daily",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("orders_paid", sa.Integer(), nullable=False),
        sa.Column("paid_spend", MONEY, nullable=False),
        sa.Column("refunded_spend", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("business_date", "customer_id", name=op.f("pk_customer_daily")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("customer_daily", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_daily_customer_id_business_date",
            ["customer_id", "business_date"],
            unique=False,
        )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("orders_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("lifetime_spend", MONEY, server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("last_order_at", common.db.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("first_paid_date", sa.Date(), nullable=True))
        for column in ACCOUNT_INDEXES:
            batch_op.create_index(f"ix_user_account_{column}", [column], unique=False)
    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.create_index("ix_customer_order_paid_at", ["paid_at"], unique=False)
    with op.batch_alter_table("order_status_change", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_status_change_to_status_created_at",
            ["to_status", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("order_status_change", schema=None) as batch_op:
        batch_op.drop_index("ix_order_status_change_to_status_created_at")
    with op.batch_alter_table("customer_order", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_order_paid_at")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        for column in ACCOUNT_INDEXES:
            batch_op.drop_index(f"ix_user_account_{column}")
        for column in reversed(ACCOUNT_INDEXES):
            batch_op.drop_column(column)
    with op.batch_alter_table("customer_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_daily_customer_id_business_date")
    op.drop_table("customer_daily")
    op.drop_table("order_daily")
