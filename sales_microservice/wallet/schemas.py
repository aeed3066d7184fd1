from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Path
from pydantic import Field

from common.models.identity import TopUpStatus, WalletEntryKind
from common.schemas.base import Schema
from common.schemas.fields import MAX_ID, DecimalText, MoneyDecimal, trimmed
from common.wallet.service import MAX_WALLET_AMOUNT
from sales_microservice.payments.providers import PaymentProviderName

WalletAmount = Annotated[
    MoneyDecimal,
    Field(
        gt=0,
        le=MAX_WALLET_AMOUNT,
        description=f"Positive, at most 2 decimals, at most {MAX_WALLET_AMOUNT}",
        examples=["25.00"],
    ),
    DecimalText(integer_digits=5, positive=True, through_limit=True),
]
Note = Annotated[str, trimmed(500)]
# The path parameter of `/customers/{customer_id}/wallet/top-ups/{top_up_id}/...`.
TopUpId = Annotated[int, Path(ge=1, le=MAX_ID, description="The top-up's id")]


class TopUp(Schema):
    """A customer asks to pay money in (a pending top-up); an admin gives store credit."""

    amount: WalletAmount
    note: Note | None = Field(
        default=None, description="Why: required when an admin gives store credit"
    )
    provider: PaymentProviderName | None = Field(
        default=None,
        description="Customers: who takes the payment. Defaults to `gateway` when payment "
        "callbacks are configured, else `manual` (an admin confirms). Not for admins.",
    )


class TopUpRead(Schema):
    id: int
    customer_id: int
    amount: Decimal
    provider: str = Field(description="`store_credit` (an admin gave it), `manual`, `gateway`")
    status: TopUpStatus = Field(description="An unpaid top-up past `expires_at` is `expired`")
    note: str | None
    actor_id: int | None = Field(description="Who asked for it")
    settled_by_id: int | None = Field(description="The admin who confirmed or declined it")
    wallet_entry_id: int | None = Field(description="The credit, once it succeeded")
    created_at: datetime
    expires_at: datetime | None = Field(description="Pending top-ups expire uncredited then")
    settled_at: datetime | None


class Debit(Schema):
    amount: WalletAmount
    reason: Note


class WalletEntryRead(Schema):
    id: int
    kind: WalletEntryKind
    amount: Decimal = Field(description="Signed: positive adds to the balance")
    balance_after: Decimal
    reference: str | None
    actor_id: int | None
    note: str | None
    created_at: datetime


class WalletRead(Schema):
    customer_id: int
    balance: Decimal
    entries: list[WalletEntryRead] = Field(description="The latest entries, newest first")
