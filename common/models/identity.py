"""Accounts, their refresh tokens, wallets and top-ups, login throttling, idempotency records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import MYSQL_TABLE_ARGS, Base, TimestampMixin
from common.db.types import binary_varchar, utcnow

EMAIL_MAX_LENGTH = 254
# Case folding may lengthen an address (`ß` -> `ss`); the key column has room for that.
EMAIL_KEY_MAX_LENGTH = 320
FULL_NAME_MAX_LENGTH = 200
PHONE_MAX_LENGTH = 32
# The largest balance DECIMAL(12,2) holds; the wallet refuses to go past it instead of
# letting the database raise an out-of-range error.
MAX_WALLET_BALANCE = Decimal("9999999999.99")


class Role(StrEnum):
    admin = "admin"
    customer = "customer"


class WalletEntryKind(StrEnum):
    top_up = "top_up"
    debit = "debit"
    payment = "payment"
    refund = "refund"
    adjustment = "adjustment"


class TopUpStatus(StrEnum):
    """pending -> succeeded (the wallet is credited, once) | failed | expired."""

    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    expired = "expired"


class IdempotencyStatus(StrEnum):
    in_flight = "in_flight"
    done = "done"


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(member.value) for member in values)})"


class UserAccount(TimestampMixin, Base):
    """A person who signs in. `email` is the address as shown (trimmed, NFKC, lower-case);
    `email_key` (`common.identity.schemas.email_key`, compared byte for byte on MySQL too) is
    what accounts are found, kept unique and throttled by, so no collation variant of an
    address reaches another account.

    `tokens_valid_after`: access tokens issued before this instant are refused (logout,
    sign-out everywhere, a password change, a revoked refresh family, deactivation); it is
    read with the role by the one lookup every authenticated request makes."""

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(_in("role", Role), name="role"),
        CheckConstraint("wallet_balance >= 0", name="wallet_balance_non_negative"),
        Index(None, "email_key", unique=True),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(binary_varchar(EMAIL_MAX_LENGTH), unique=True)
    email_key: Mapped[str] = mapped_column(binary_varchar(EMAIL_KEY_MAX_LENGTH))
    full_name: Mapped[str] = mapped_column(String(FULL_NAME_MAX_LENGTH), index=True)
    phone: Mapped[str | None] = mapped_column(String(PHONE_MAX_LENGTH))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), index=True, default=Role.customer.value)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    wallet_balance: Mapped[Decimal] = mapped_column(default=Decimal("0.00"), server_default="0")
    tokens_valid_after: Mapped[datetime | None]
    # Lifetime order figures, kept by `common.orders.rollups` in the same transaction as each
    # placement, payment and refund (under this row's lock), rebuildable from the orders.
    # Orders paid, refunded ones included; what they paid minus what was refunded; when the
    # latest order was placed; the store day of the first paid order (cohorts, new customers).
    orders_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)
    lifetime_spend: Mapped[Decimal] = mapped_column(
        default=Decimal("0.00"), server_default="0", index=True
    )
    last_order_at: Mapped[datetime | None] = mapped_column(index=True)
    first_paid_date: Mapped[date | None] = mapped_column(Date, index=True)


class RefreshToken(Base):
    """A refresh token, kept only as the SHA-256 of its secret. Rotation links each token to
    the one that replaced it; all tokens descended from one login share a `family_id`, so the
    reuse of a rotated token can revoke the whole family."""

    __tablename__ = "refresh_token"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("refresh_token.id"))


class WalletEntry(Base):
    """Append-only wallet ledger: the cached `user_account.wallet_balance` always equals the
    sum of `amount` over a user's entries (`common.wallet.service.reconcile_wallets` proves it)."""

    __tablename__ = "wallet_entry"
    __table_args__ = (
        CheckConstraint(_in("kind", WalletEntryKind), name="kind"),
        CheckConstraint("amount <> 0", name="amount_non_zero"),
        CheckConstraint("balance_after >= 0", name="balance_after_non_negative"),
        Index(None, "user_id", "id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal]
    balance_after: Mapped[Decimal]
    reference: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WalletTopUp(Base):
    """Money asked to enter a wallet, and who pays for it.

    A customer's own top-up is a payment: `pending` until its provider confirms it
    (`succeeded`, which appends exactly one `wallet_entry`, `wallet_entry_id`), declines it
    (`failed`) or lets it run out (`expired`, past `expires_at`). An admin's store credit is
    a top-up of provider `store_credit`, succeeded at once, with the admin as `actor_id`.
    The unique `wallet_entry_id` is the database's own proof that no top-up credits twice.
    `provider` is not constrained here: a new payment provider needs no migration."""

    __tablename__ = "wallet_top_up"
    __table_args__ = (
        CheckConstraint(_in("status", TopUpStatus), name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index(None, "user_id", "id"),
        Index(None, "status", "expires_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    amount: Mapped[Decimal]
    provider: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=TopUpStatus.pending.value)
    note: Mapped[str | None] = mapped_column(String(500))
    # Who asked for it (the customer, or the admin giving store credit).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # The admin who confirmed or declined a `manual` top-up; None for providers and expiry.
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The provider's id of the callback that settled it (`webhook-id`), for support.
    provider_event_id: Mapped[str | None] = mapped_column(String(255))
    wallet_entry_id: Mapped[int | None] = mapped_column(ForeignKey("wallet_entry.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed-login counter of one account or one client address, in a fixed window.

    Kept in the database because replicas share nothing else. `subject_hash` is the SHA-256
    of the normalized e-mail or the address, so the table holds no addresses or guessed
    e-mails in clear."""

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("scope", "subject_hash"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    subject_hash: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime]


class IdempotencyRecord(Base):
    """One `Idempotency-Key` of one caller on one operation (`scope`), claimed before the
    work runs and completed, with the response, in the same transaction as the work."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("scope", "idempotency_key"),
        CheckConstraint(_in("status", IdempotencyStatus), name="status"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Compared byte for byte (`order-ab` and `ORDER-AB` are two keys) on MySQL too.
    scope: Mapped[str] = mapped_column(binary_varchar(100))
    idempotency_key: Mapped[str] = mapped_column(binary_varchar(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=IdempotencyStatus.in_flight.value)
    # Random per claim: the completing transaction only succeeds while it still owns the claim.
    claim_token: Mapped[str] = mapped_column(String(32))
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
