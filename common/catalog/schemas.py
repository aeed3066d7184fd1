"""Field rules of categories and products, shared by the catalog API and the bulk import.

They live in `common` because the import engine (`common.imports`) is also run by the
command line, and `common` imports no service: both entry points validate a product with
these same types, so a row the API would refuse is refused by the import too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field, StringConstraints

from common.models.catalog import (
    CATEGORY_DESCRIPTION_MAX,
    CATEGORY_NAME_MAX,
    IMAGE_URL_MAX,
    MAX_STOCK,
    PRODUCT_DESCRIPTION_MAX,
    PRODUCT_NAME_MAX,
    SKU_MAX,
)
from common.schemas.fields import MAX_ID, DecimalText, MoneyDecimal, PositiveMoneyAmount, trimmed

# The path parameters of `/categories/{category_id}` and every `/products/{product_id}/...`.
CategoryId = Annotated[int, Path(ge=1, le=MAX_ID, description="Category id")]
ProductId = Annotated[int, Path(ge=1, le=MAX_ID, description="Product id")]

CategoryName = Annotated[str, trimmed(CATEGORY_NAME_MAX)]
CategoryDescription = Annotated[str, trimmed(CATEGORY_DESCRIPTION_MAX)]
# SKUs are case-insensitive codes, stored upper-case so every backend compares them alike.
Sku = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_upper=True,
        min_length=1,
        max_length=SKU_MAX,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$",
    ),
]
ProductName = Annotated[str, trimmed(PRODUCT_NAME_MAX)]
ProductDescription = Annotated[str, trimmed(PRODUCT_DESCRIPTION_MAX)]
ImageUrl = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=IMAGE_URL_MAX, pattern=r"^https?://[^\s\x00\x85]+$"
    ),
]
Price = PositiveMoneyAmount
CostPrice = Annotated[MoneyDecimal, Field(ge=0), DecimalText()]
Threshold = Annotated[int, Field(ge=0, le=MAX_STOCK)]
StockLevel = Annotated[int, Field(ge=0, le=MAX_STOCK)]
DEFAULT_LOW_STOCK_THRESHOLD = 10
