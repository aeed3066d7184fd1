"""Sales and their daily rollups: sale, sales_daily (per product), sales_daily_category.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 05:08:55.450438
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sales_daily_category",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("units_sold", sa.Integer(), nullable=False),
        sa.Column("units_refunded", sa.Integer(), nullable=False),
        sa.Column("revenue", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("refunds", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("cost", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("sales_count", sa.Integer(), nullable=False),
        sa.Column("refund_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "business_date", "category_id", name=op.f("pk_sales_daily_category")
        ),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("sales_daily_category", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_daily_category_category_id_business_date"),
            ["category_id", "business_date"],
            unique=False,
        )

    op.create_table(
        "sale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("refund_of_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("unit_cost", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("revenue", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("cost", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("sold_at", common.db.types.UTCDateTime(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=True),
        sa.Column("created_at", common.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'sale' AND quantity > 0) OR (kind = 'refund' AND quantity < 0)",
            name=op.f("ck_sale_quantity_sign_matches_kind"),
        ),
        sa.CheckConstraint("quantity <> 0", name=op.f("ck_sale_quantity_not_zero")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
            name=op.f("fk_sale_product_id_product"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["refund_of_id"],
            ["sale.id"],
            name=op.f("fk_sale_refund_of_id_sale"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("sale", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sale_business_date_product_id"),
            ["business_date", "product_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sale_category_id_sold_at"), ["category_id", "sold_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sale_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sale_product_id_sold_at"), ["product_id", "sold_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sale_refund_of_id"), ["refund_of_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sale_revenue"), ["revenue"], unique=False)
        batch_op.create_index(batch_op.f("ix_sale_sold_at"), ["sold_at"], unique=False)

    op.create_table(
        "sales_daily",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("units_sold", sa.Integer(), nullable=False),
        sa.Column("units_refunded", sa.Integer(), nullable=False),
        sa.Column("revenue", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("refunds", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("cost", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("sales_count", sa.Integer(), nullable=False),
        sa.Column("refund_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
            name=op.f("fk_sales_daily_product_id_product"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "business_date", "product_id", "category_id", name=op.f("pk_sales_daily")
        ),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("sales_daily", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_daily_category_id_business_date"),
            ["category_id", "business_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sales_daily_product_id_business_date"),
            ["product_id", "business_date"],
            unique=False,
        )


def downgrade() -> None:
    # Dropping a table drops its indexes; dropping them first fails on MySQL for the indexes
    # that back a foreign key.
    op.drop_table("sales_daily_category")
    op.drop_table("sales_daily")
    op.drop_table("sale")
