"""Identity hardening: `user_account.email_key`, the binary canonical key accounts are found,
kept unique and throttled by (and `email` compared byte for byte on MySQL too), and
`user_account.tokens_valid_after`, before which access tokens are refused.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import common.db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMAIL_KEY_LENGTH = 320


def _email_key(email: str) -> str:
    # Frozen copy of `common.identity.schemas.email_key` as of this revision: a migration
    # must keep meaning what it meant when it ran.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email.strip()).casefold())


def _key_type(length: int) -> sa.types.TypeEngine[object]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def _email_collation(collation: str) -> None:
    """MySQL's `email` compares byte for byte too (SQLite already does): its unique index
    then means what it means on SQLite, never an accent-insensitive match."""
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    op.alter_column(
        "user_account",
        "email",
        existing_type=sa.String(254),
        type_=mysql.VARCHAR(254, charset="utf8mb4", collation=collation),
        existing_nullable=False,
    )


# Plain ALTER TABLE statements, never batch mode: on SQLite a batch copies the table, and
# dropping `user_account` fails on the rows that point at it.
def upgrade() -> None:
    # SQLite adds a NOT NULL column only with a default; every row gets its key below.
    op.add_column(
        "user_account",
        sa.Column("email_key", _key_type(EMAIL_KEY_LENGTH), nullable=False, server_default=""),
    )
    op.add_column("user_account", sa.Column("tokens_valid_after", common.db.types.UTCDateTime()))
    connection = op.get_bind()
    accounts = sa.table("user_account", sa.column("id"), sa.column("email"), sa.column("email_key"))
    rows = connection.execute(sa.select(accounts.c.id, accounts.c.email)).all()
    if rows:
        connection.execute(
            accounts.update()
            .where(accounts.c.id == sa.bindparam("account_id"))
            .values(email_key=sa.bindparam("key")),
            [{"account_id": row.id, "key": _email_key(row.email)} for row in rows],
        )
    if connection.dialect.name in ("mysql", "mariadb"):
        # SQLite cannot drop a default in place; the application always writes the key.
        op.alter_column(
            "user_account",
            "email_key",
            existing_type=_key_type(EMAIL_KEY_LENGTH),
            existing_nullable=False,
            server_default=None,
        )
    op.create_index("ix_user_account_email_key", "user_account", ["email_key"], unique=True)
    _email_collation("utf8mb4_bin")


def downgrade() -> None:
    _email_collation("utf8mb4_unicode_ci")
    op.drop_index("ix_user_account_email_key", table_name="user_account")
    op.drop_column("user_account", "tokens_valid_after")
    op.drop_column("user_account", "email_key")
