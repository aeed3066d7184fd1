"""Rating counters on product: rating_count and rating_total over approved reviews.

A product read no longer aggregates its reviews; the reviews service keeps the counters in
the transaction of every review change. Existing reviews are counted here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTERs, not batch mode: SQLite adds (and, since 3.35, drops) a column in place,
# while batch mode would copy the table, and `product` is referenced by foreign keys.


def upgrade() -> None:
    for name in ("rating_count", "rating_total"):
        op.add_column(
            "product", sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    op.execute(
        "UPDATE product SET "
        "rating_count = (SELECT COUNT(*) FROM review "
        "WHERE review.product_id = product.id AND review.status = 'approved'), "
        "rating_total = (SELECT COALESCE(SUM(review.rating), 0) FROM review "
        "WHERE review.product_id = product.id AND review.status = 'approved')"
    )


def downgrade() -> None:
    op.drop_column("product", "rating_total")
    op.drop_column("product", "rating_count")
