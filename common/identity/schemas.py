"""Request and response models of accounts and tokens, shared by both services."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Path
from pydantic import ConfigDict, Field, StringConstraints

from common.identity.passwords import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from common.models.identity import (
    EMAIL_MAX_LENGTH,
    FULL_NAME_MAX_LENGTH,
    PHONE_MAX_LENGTH,
    Role,
)
from common.schemas.base import Schema
from common.schemas.fields import MAX_ID, trimmed

# The path parameter of every `/customers/{customer_id}/...` route.
CustomerId = Annotated[int, Path(ge=1, le=MAX_ID, description="The customer's account id")]

# `\x85` spelled out: in Rust's `\s` (what pydantic checks with), not in ECMA-262's (what the
# spec is read with); NUL is never part of an address.
_ADDRESS_PART = r"[^@\s\x00\x85]+"
EMAIL_PATTERN = re.compile(rf"^{_ADDRESS_PART}@{_ADDRESS_PART}\.{_ADDRESS_PART}$")
# Trimmed and lower-cased before it is stored or compared: that is what makes e-mails unique
# regardless of case. The shape check is deliberately loose; ownership is what matters.
EmailAddress = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=EMAIL_MAX_LENGTH,
        pattern=EMAIL_PATTERN.pattern,
    ),
]
Password = Annotated[str, Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)]
FullName = Annotated[str, trimmed(FULL_NAME_MAX_LENGTH)]
Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=3,
        max_length=PHONE_MAX_LENGTH,
        # Spaces only inside, so the documented minLength still holds once the value is
        # stripped.
        pattern=r"^\+?[0-9()\-.]([0-9 ()\-.]*[0-9()\-.])?$",
    ),
]


def normalize_email(email: str) -> str:
    return email.strip().lower()


class AccountRead(Schema):
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
                }
            ]
        }
    )

    id: int
    email: str
    full_name: str
    phone: str | None
    role: Role
    is_active: bool
    wallet_balance: Decimal
    created_at: datetime
    updated_at: datetime


class TokenResponse(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3IiwidHlwIjoiYWNjZXNzIn0.c2ln",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": "Zk1hY3Jvc3MtcmVmcmVzaC10b2tlbi1leGFtcGxl",
                    "refresh_expires_in": 1209600,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type, no secret)
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Single use: `POST /auth/refresh` returns a new one")
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires")


class RefreshRequest(Schema):
    refresh_token: str = Field(min_length=1, max_length=512)
