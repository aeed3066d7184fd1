"""The product list's query filters as one dependency (the catalog export takes the same)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from common.inventory.availability import StockStatus
from common.models.catalog import ProductStatus
from common.schemas.fields import Id, MoneyAmount
from products_microservice.catalog.service import ProductFilter


async def product_filter(
    category_id: Annotated[Id | None, Query()] = None,
    product_status: Annotated[ProductStatus, Query(alias="status")] = ProductStatus.ACTIVE,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="In name, SKU, description")
    ] = None,
    min_price: Annotated[MoneyAmount | None, Query(ge=0)] = None,
    max_price: Annotated[MoneyAmount | None, Query(ge=0)] = None,
    stock_status: Annotated[StockStatus | None, Query()] = None,
) -> ProductFilter:
    return ProductFilter(
        category_id=category_id,
        status=product_status,
        q=q,
        min_price=min_price,
        max_price=max_price,
        stock_status=stock_status,
    )


ProductFilterDep = Annotated[ProductFilter, Depends(product_filter)]
