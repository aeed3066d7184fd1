"""Field types whose bounds match the columns they end up in, so input never overflows.

Their JSON schemas say exactly what is accepted, so a client generated from the spec (or a
fuzzer) never builds a request that validation then refuses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    ValidatorFunctionWrapHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# Any id a client may send: ids are INT columns, so anything larger cannot exist.
MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

# Text: no NUL anywhere (never text, ends strings in C clients, refused by some databases) and
# at least one character that is not white space (`\\x85` spelled out: Rust's `\\s`, which
# pydantic checks with, includes it and ECMA-262's, which the spec is read with, does not).
TEXT_PATTERN = "^[^\\x00]*[^\\x00\\s\\x85][^\\x00]*$"


# What a decimal string must look like before its bounds are even checked: ASCII digits, a
# sign, one point. Python's Decimal also reads exponents, `_`, other scripts' digits, spaces.
_PLAIN_DECIMAL = re.compile("-?[0-9]+(\\.[0-9]+)?")


@dataclass(frozen=True)
class DecimalText:
    """A decimal input written as a string of ASCII digits with at most `places` decimals,
    documented and enforced by one pattern.

    Pydantic describes `Decimal` as "any number or any string", a promise validation breaks
    (`"abc"`, `1e-300`, `"1.005"`), and it reads far more than the spec offers: `"1E2"`,
    `"1_000"`, full-width digits (`"\\uff15"`), `" 5 "`. Strings are the exact form (a JSON
    number may arrive as a binary float), so that is what the spec offers, and a string is
    held to that very pattern before Pydantic reads it; numbers are still accepted. The
    pattern carries the bounds a pattern can: the digits before the point, the sign, and
    `positive` excludes zero.
    The value comes out quantized to `places` decimals, so `"5"` and `"5.00"` are one amount
    everywhere after validation (echoes, request fingerprints).
    """

    integer_digits: int = 10
    places: int = 2
    positive: bool = False
    # Also accept exactly 10 ** integer_digits (`100000.00` with 5 digits): a round limit.
    through_limit: bool = False

    @property
    def pattern(self) -> str:
        rest = f"[0-9]{{0,{self.integer_digits - 1}}}"
        fraction = f"(\\.[0-9]{{1,{self.places}}})?"
        limit = (
            f"|1{'0' * self.integer_digits}(\\.0{{1,{self.places}}})?" if self.through_limit else ""
        )
        if self.positive:
            # Either a non-zero integer part, or 0 followed by a non-zero fraction.
            small = "|".join(
                f"0\\.{'0' * zeros}[1-9][0-9]{{0,{self.places - zeros - 1}}}"
                for zeros in range(self.places)
            )
            return f"^([1-9]{rest}{fraction}|{small}{limit})$"
        return f"^((0|[1-9]{rest}){fraction}{limit})$"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: Callable[[Any], CoreSchema]
    ) -> CoreSchema:
        pattern = re.compile(self.pattern)
        exponent = Decimal(1).scaleb(-self.places)

        def off_pattern() -> PydanticCustomError:
            return PydanticCustomError(
                "decimal_text",
                "Expected a decimal such as 12.50 in ASCII digits (no sign, exponent, spaces "
                "or separators; at most {digits} digits before the point and {places} after)",
                {"digits": self.integer_digits, "places": self.places},
            )

        def written_as_documented(value: Any, validate: ValidatorFunctionWrapHandler) -> Any:
            # Plain decimals go on to the bounds, whose messages say what is wrong ("greater
            # than 0", "at most 2 decimal places"); anything else Decimal would read is refused.
            if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
                raise off_pattern()
            result = validate(value)
            if isinstance(value, str) and not pattern.fullmatch(value):
                raise off_pattern()  # within the bounds, but e.g. `05.00`
            return result.quantize(exponent) if isinstance(result, Decimal) else result

        return core_schema.no_info_wrap_validator_function(written_as_documented, handler(source))

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema: dict[str, Any] = handler(core_schema)
        if handler.mode != "validation":
            return schema
        # Bounds the wrapped validators add (`gt`, ...) are not JSON Schema; the pattern says them.
        for key in (
            "anyOf",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "gt",
            "ge",
            "lt",
            "le",
        ):
            schema.pop(key, None)
        schema.update(type="string", pattern=self.pattern)
        schema.setdefault("examples", ["12.50"])
        return schema


# DECIMAL(12,2): ten digits before the point, two after. Every money type is this, then its
# bounds, then exactly one `DecimalText` (outermost, so the bounds' own messages come first).
MoneyDecimal = Annotated[Decimal, Field(max_digits=12, decimal_places=2, allow_inf_nan=False)]
MoneyAmount = Annotated[MoneyDecimal, DecimalText()]
PositiveMoneyAmount = Annotated[MoneyDecimal, Field(gt=0), DecimalText(positive=True)]

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
