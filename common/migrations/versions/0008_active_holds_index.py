"""An index of reservation items by (status, expires_at, product_id): which products active
holds cover right now, read as one range (the low-stock listing).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_stock_reservation_item_status_expires_at_product_id"


def upgrade() -> None:
    op.create_index(
        INDEX, "stock_reservation_item", ["status", "expires_at", "product_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="stock_reservation_item")
