"""Request and response models of accounts and tokens, shared by both services."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Path
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from common.identity.password_policy import MIN_DISTINCT_CHARACTERS, weakness
from common.identity.passwords import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from common.models.identity import (
    EMAIL_KEY_MAX_LENGTH,
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
# Unicode categories never part of an address people type: controls, format characters
# (zero-width, bidi overrides: they make look-alikes of another account's address),
# surrogates, private use and unassigned code points.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def normalize_email(email: str) -> str:
    """How an address is stored and shown: trimmed, NFKC-normalized, lower-cased."""
    return unicodedata.normalize("NFKC", email.strip()).lower()


def email_key(email: str) -> str:
    """The key an account is found, kept unique and throttled by (`user_account.email_key`,
    compared byte for byte on every backend): NFKC, case-folded, NFKC again (Unicode's
    NFKC_Casefold closure for what people type). `Victim@Example.com` and `VICTIM@example.com`
    are one key; `victìm@example.com` is another, on MySQL too."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email.strip()).casefold())


def _registrable_email(value: str) -> str:
    """A new or changed address: no invisible characters, and still an address once
    normalized (NFKC turns a full-width at sign into a second `@`)."""
    if any(unicodedata.category(character) in _REFUSED_CATEGORIES for character in value):
        raise ValueError("the e-mail contains control or invisible formatting characters")
    normalized = normalize_email(value)
    if not EMAIL_PATTERN.match(normalized) or len(normalized) > EMAIL_MAX_LENGTH:
        raise ValueError("the e-mail is not an address once normalized (NFKC)")
    if len(email_key(normalized)) > EMAIL_KEY_MAX_LENGTH:
        raise ValueError("the e-mail is too long once case-folded")
    return normalized


# Trimmed, NFKC-normalized and lower-cased before it is stored; its `email_key` is what makes
# e-mails unique. The shape check is deliberately loose; ownership is what matters.
EmailAddress = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=EMAIL_MAX_LENGTH,
        pattern=EMAIL_PATTERN.pattern,
    ),
    AfterValidator(_registrable_email),
]


def _not_weak(password: str) -> str:
    reason = weakness(password)
    if reason is not None:
        raise ValueError(reason)
    return password


# A password being set (registration, an admin's new account, a change). The blocklist is a
# rule a JSON schema cannot state: the description says it, and a refusal is a 422 naming
# the field like any other invalid input.
Password = Annotated[
    str,
    Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        description="A new password: refused (422) when it is one of the most common "
        f"passwords or has fewer than {MIN_DISTINCT_CHARACTERS} different characters",
    ),
    AfterValidator(_not_weak),
]
# A password being proved (only compared, never judged).
CurrentPassword = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
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


class PasswordChange(Schema):
    current_password: CurrentPassword
    new_password: Password
