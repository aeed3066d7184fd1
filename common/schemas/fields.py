"""Field types whose bounds match the columns they end up in, so input never overflows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

# Any id a client may send: ids are INT columns, so anything larger cannot exist.
MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

# DECIMAL(12,2): ten digits before the point, two after.
MoneyAmount = Annotated[Decimal, Field(max_digits=12, decimal_places=2, allow_inf_nan=False)]

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _within_storable_range(value: datetime) -> datetime:
    # DATETIME holds years 1000-9999, and converting an instant near either end between
    # time zones overflows; no business question needs more than this range.
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError("must be between 1970-01-01 and 9000-01-01 (UTC)")
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_within_storable_range)]
"""A moment in time with its UTC offset (`2026-03-01T12:00:00Z`); naive times are refused."""


def trimmed(max_length: int) -> StringConstraints:
    """`Annotated[str, trimmed(100)]`: stripped, non-empty, at most `max_length` characters."""
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)
