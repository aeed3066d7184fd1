"""Catalog and inventory ledger: category, product, inventory_movement.

Types are spelled out here rather than imported from the models, so this revision keeps
building the same schema however the application's types evolve.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_OPTIONS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def money() -> sa.types.TypeEngine[object]:
    return sa.Numeric(12, 2)


def utc_datetime() -> sa.types.TypeEngine[object]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def binary_varchar(length: int) -> sa.types.TypeEngine[object]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def upgrade() -> None:
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", binary_varchar(100), nullable=False),
        sa.Column("slug", binary_varchar(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("updated_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_category"),
        sa.UniqueConstraint("name_key", name="uq_category_name_key"),
        sa.UniqueConstraint("slug", name="uq_category_slug"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_category_name", "category", ["name"])

    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("price", money(), nullable=False),
        sa.Column("cost_price", money(), nullable=True),
        sa.Column("image_url", sa.String(2048), nullable=True),
        sa.Column("status", sa.String(16), server_default=sa.text("'active'"), nullable=False),
        sa.Column(
            "low_stock_threshold", sa.Integer(), server_default=sa.text("10"), nullable=False
        ),
        sa.Column("stock_on_hand", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("updated_at", utc_datetime(), nullable=False),
        sa.CheckConstraint("price > 0", name="ck_product_price_positive"),
        sa.CheckConstraint(
            "cost_price IS NULL OR cost_price >= 0", name="ck_product_cost_price_not_negative"
        ),
        sa.CheckConstraint("stock_on_hand >= 0", name="ck_product_stock_on_hand_not_negative"),
        sa.CheckConstraint(
            "low_stock_threshold >= 0", name="ck_product_low_stock_threshold_not_negative"
        ),
        sa.CheckConstraint("status IN ('active', 'archived')", name="ck_product_status_known"),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name="fk_product_category_id_category",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_product"),
        sa.UniqueConstraint("sku", name="uq_product_sku"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_product_category_id_status", "product", ["category_id", "status"])
    op.create_index("ix_product_status_created_at", "product", ["status", "created_at"])
    op.create_index("ix_product_status_name", "product", ["status", "name"])
    op.create_index("ix_product_status_price", "product", ["status", "price"])
    op.create_index(
        "ix_product_status_stock_on_hand_low_stock_threshold",
        "product",
        ["status", "stock_on_hand", "low_stock_threshold"],
    )

    op.create_table(
        "inventory_movement",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("quantity_after", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(100), nullable=True),
        sa.Column("actor", sa.String(100), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('initial', 'restock', 'adjustment', 'sale', 'return', 'damage', "
            "'correction', 'import')",
            name="ck_inventory_movement_kind_known",
        ),
        sa.CheckConstraint("delta <> 0", name="ck_inventory_movement_delta_not_zero"),
        sa.CheckConstraint(
            "quantity_after >= 0", name="ck_inventory_movement_quantity_after_not_negative"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
            name="fk_inventory_movement_product_id_product",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inventory_movement"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_inventory_movement_kind", "inventory_movement", ["kind"])
    op.create_index(
        "ix_inventory_movement_product_id_created_at",
        "inventory_movement",
        ["product_id", "created_at"],
    )
    op.create_index(
        "ix_inventory_movement_product_id_id", "inventory_movement", ["product_id", "id"]
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; the MySQL foreign keys need their indexes until then.
    op.drop_table("inventory_movement")
    op.drop_table("product")
    op.drop_table("category")
