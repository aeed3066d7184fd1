"""Request lines that name products and quantities (reservations, orders)."""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field

from common.models.catalog import MAX_STOCK
from common.schemas.base import Schema
from common.schemas.fields import Id

MAX_LINES = 100


class StockLine(Schema):
    product_id: Id
    quantity: int = Field(ge=1, le=MAX_STOCK)


LineT = TypeVar("LineT", bound=StockLine)


def each_product_once(lines: list[LineT]) -> list[LineT]:
    """A product named twice is ambiguous (add the quantities? take the last?): refuse it."""
    seen: set[int] = set()
    for line in lines:
        if line.product_id in seen:
            raise ValueError(f"product {line.product_id} appears more than once")
        seen.add(line.product_id)
    return lines


StockLines = Annotated[
    list[StockLine], Field(min_length=1, max_length=MAX_LINES), AfterValidator(each_product_once)
]
