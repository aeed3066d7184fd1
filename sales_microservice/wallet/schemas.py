from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from common.models.identity import WalletEntryKind
from common.schemas.base import Schema
from common.schemas.fields import DecimalText, trimmed
from common.wallet.service import MAX_WALLET_AMOUNT

WalletAmount = Annotated[
    Decimal,
    Field(
        gt=0,
        le=MAX_WALLET_AMOUNT,
        decimal_places=2,
        description=f"Positive, at most 2 decimals, at most {MAX_WALLET_AMOUNT}",
        examples=["25.00"],
    ),
    # 100000.00 itself is accepted too; a pattern cannot also say "at most 100000".
    DecimalText(integer_digits=5, positive=True),
]
Note = Annotated[str, trimmed(500)]


class TopUp(Schema):
    amount: WalletAmount
    note: Note | None = None


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
