"""Product reviews: review.

Types are spelled out here rather than imported from the models, so this revision keeps
building the same schema however the application's types evolve.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_OPTIONS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def utc_datetime() -> sa.types.TypeEngine[object]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("moderated_by", sa.Integer(), nullable=True),
        sa.Column("moderated_at", utc_datetime(), nullable=True),
        sa.Column("moderation_note", sa.String(500), nullable=True),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("updated_at", utc_datetime(), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_review_rating_range"),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')", name="ck_review_status_known"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name="fk_review_product_id_product", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name="fk_review_user_id_user_account",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["moderated_by"],
            ["user_account.id"],
            name="fk_review_moderated_by_user_account",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review"),
        sa.UniqueConstraint("product_id", "user_id", name="uq_review_product_id_user_id"),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_review_product_id_status_created_at", "review", ["product_id", "status", "created_at"]
    )
    op.create_index(
        "ix_review_product_id_status_rating_created_at",
        "review",
        ["product_id", "status", "rating", "created_at"],
    )
    op.create_index("ix_review_status_created_at", "review", ["status", "created_at"])
    op.create_index("ix_review_user_id_created_at", "review", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_table("review")
