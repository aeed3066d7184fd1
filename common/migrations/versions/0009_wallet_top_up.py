"""Wallet top-ups as payments (`wallet_top_up`), and idempotency keys compared byte for byte
on MySQL (`utf8mb4_bin`: `order-ab` and `ORDER-AB` are two keys).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import common.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallet_top_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("amount", common.db.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("settled_by_id", sa.Integer(), nullable=True),
        sa.Column("provider_event_id", sa.String(length=255), nullable=True),
        sa.Column("wallet_entry_id", sa.Integer(), nullable=True),
        sa.Column("created_at", common.db.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", common.db.types.UTCDateTime(), nullable=True),
        sa.Column("settled_at", common.db.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'expired')",
            name=op.f("ck_wallet_top_up_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_wallet_top_up_amount_positive")),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_wallet_top_up_actor_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["settled_by_id"],
            ["user_account.id"],
            name=op.f("fk_wallet_top_up_settled_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_wallet_top_up_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["wallet_entry_id"],
            ["wallet_entry.id"],
            name=op.f("fk_wallet_top_up_wallet_entry_id_wallet_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_top_up")),
        sa.UniqueConstraint("wallet_entry_id", name=op.f("uq_wallet_top_up_wallet_entry_id")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("wallet_top_up", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallet_top_up_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_wallet_top_up_status_expires_at"), ["status", "expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_wallet_top_up_user_id_id"), ["user_id", "id"], unique=False
        )

    _idempotency_collation("utf8mb4_bin")


def _idempotency_collation(collation: str) -> None:
    """SQLite compares strings byte for byte already; only MySQL's columns change."""
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for column, length in (("scope", 100), ("idempotency_key", 255)):
        op.alter_column(
            "idempotency_record",
            column,
            existing_type=sa.String(length),
            type_=mysql.VARCHAR(length, charset="utf8mb4", collation=collation),
            existing_nullable=False,
        )


def downgrade() -> None:
    _idempotency_collation("utf8mb4_unicode_ci")
    # Its indexes go with it (MySQL refuses to drop one a foreign key still needs).
    op.drop_table("wallet_top_up")
