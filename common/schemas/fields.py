"""Field types whose bounds match the columns they end up in, so input never overflows.

Their JSON schemas say exactly what is accepted, so a client generated from the spec (or a
fuzzer) never builds a request that validation then refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

# Any id a client may send: ids are INT columns, so anything larger cannot exist.
MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

# Text: no NUL anywhere (never text, ends strings in C clients, refused by some databases) and
# at least one character that is not white space (`\\x85` spelled out: Rust's `\\s`, which
# pydantic checks with, includes it and ECMA-262's, which the spec is read with, does not).
TEXT_PATTERN = "^[^\\x00]*[^\\x00\\s\\x85][^\\x00]*$"


@dataclass(frozen=True)
class DecimalText:
    """Documents a decimal input as a string of digits with at most `places` decimals.

    Pydantic describes `Decimal` as "any number or any string", a promise validation breaks
    (`"abc"`, `1e-300`, `"1.005"`). Strings are the exact form (a JSON number may arrive as a
    binary float), so that is what the spec offers; numbers are still accepted. The pattern
    carries the bounds a pattern can: the digits before the point, the sign, and `positive`
    excludes zero.
    """

    integer_digits: int = 10
    places: int = 2
    positive: bool = False

    @property
    def pattern(self) -> str:
        rest = f"[0-9]{{0,{self.integer_digits - 1}}}"
        fraction = f"(\\.[0-9]{{1,{self.places}}})?"
        if self.positive:
            # Either a non-zero integer part, or 0 followed by a non-zero fraction.
            small = "|".join(
                f"0\\.{'0' * zeros}[1-9][0-9]{{0,{self.places - zeros - 1}}}"
                for zeros in range(self.places)
            )
            return f"^([1-9]{rest}{fraction}|{small})$"
        return f"^(0|[1-9]{rest}){fraction}$"

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema: dict[str, Any] = handler(core_schema)
        if handler.mode != "validation":
            return schema
        for key in ("anyOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            schema.pop(key, None)
        schema.update(type="string", pattern=self.pattern)
        schema.setdefault("examples", ["12.50"])
        return schema


# DECIMAL(12,2): ten digits before the point, two after.
MoneyAmount = Annotated[
    Decimal, Field(max_digits=12, decimal_places=2, allow_inf_nan=False), DecimalText()
]
PositiveMoneyAmount = Annotated[MoneyAmount, Field(gt=0), DecimalText(positive=True)]

# DATETIME holds years 1000-9999, and moving a moment near either end between time zones, or
# a day a period back or forward, overflows; no business question needs more than this range.
# The year is checked as written, which is what the documented pattern can say.
EARLIEST_YEAR, LATEST_YEAR = 1970, 8999
_YEAR_PATTERN = "^(19[7-9][0-9]|[2-8][0-9]{3})-"
When = TypeVar("When", date, datetime)


def _in_business_years(value: When) -> When:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"the year must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _iso_8601(value: Any) -> Any:
    """Dates and times as the spec offers them, ISO 8601 text. Pydantic would also read a
    number (or a numeric string, as every query parameter is) as seconds since 1970, which
    turns a client's mistake into a silent 1970 date."""
    if isinstance(value, date):  # from Python code; datetime is a date too
        return value
    if isinstance(value, str) and re.match(r"^[0-9]{4}-", value):
        return value
    raise ValueError("expected ISO 8601 text such as 2026-03-01 or 2026-03-01T12:00:00Z")


Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_8601),
    AfterValidator(_in_business_years),
    AfterValidator(_to_utc),
    Field(json_schema_extra={"pattern": _YEAR_PATTERN}, examples=["2026-03-01T12:00:00Z"]),
]
"""A moment in time with its UTC offset (`2026-03-01T12:00:00Z`); naive times are refused."""

Day = Annotated[
    date,
    BeforeValidator(_iso_8601),
    AfterValidator(_in_business_years),
    Field(json_schema_extra={"pattern": _YEAR_PATTERN}, examples=["2026-03-01"]),
]
"""A calendar day (`2026-03-01`) in the years 1970-8999."""


def trimmed(max_length: int) -> StringConstraints:
    """`Annotated[str, trimmed(100)]`: stripped, non-blank text of at most `max_length`
    characters."""
    return StringConstraints(
        strip_whitespace=True, min_length=1, max_length=max_length, pattern=TEXT_PATTERN
    )
