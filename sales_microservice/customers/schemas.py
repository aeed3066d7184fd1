from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import ConfigDict, Field

from common.identity.schemas import (
    AccountRead,
    CurrentPassword,
    EmailAddress,
    FullName,
    Password,
    Phone,
)
from common.models.identity import Role
from common.schemas.base import PatchSchema, Schema


class CustomerRead(AccountRead):
    """An account with its lifetime order figures (kept with every order, never recounted)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "email": "ada@example.com",
                    "full_name": "Ada Lovelace",
                    "phone": "+44 20 7946 0958",
                    "role": "customer",
                    "is_active": True,
                    "wallet_balance": "0.00",
                    "created_at": "2026-03-01T09:30:00Z",
                    "updated_at": "2026-03-01T09:30:00Z",
                    "orders_count": 3,
                    "lifetime_spend": "84.50",
                    "last_order_at": "2026-03-20T17:05:00Z",
                }
            ]
        }
    )

    orders_count: int = Field(description="Orders paid, refunded ones included")
    lifetime_spend: Decimal = Field(description="What those orders paid, minus refunds")
    last_order_at: datetime | None = Field(description="When the latest order was placed")


class CustomerSort(StrEnum):
    id = "id"
    orders_count = "orders_count"
    lifetime_spend = "lifetime_spend"
    last_order_at = "last_order_at"


class SortOrder(StrEnum):
    asc = "asc"
    desc = "desc"


class CustomerCreate(Schema):
    email: EmailAddress
    password: Password
    full_name: FullName
    phone: Phone | None = None
    role: Role = Role.customer


class CustomerUpdate(PatchSchema):
    """Only the fields sent are changed. `role` and `is_active` are for admins; the balance
    changes only through the wallet. `phone: null` clears the phone. Changing one's own
    `email` needs `current_password` (an admin changing another account's does not)."""

    clearable = frozenset({"phone"})

    email: EmailAddress | None = None
    full_name: FullName | None = None
    phone: Phone | None = None
    role: Role | None = None
    is_active: bool | None = None
    current_password: CurrentPassword | None = Field(
        default=None, description="Required to change your own e-mail; otherwise ignored"
    )
