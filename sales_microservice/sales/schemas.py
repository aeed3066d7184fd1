from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from fastapi import Path, Query
from pydantic import ConfigDict, Field

from common.models.sales import SaleKind
from common.schemas import Schema
from common.schemas.fields import MAX_ID, Instant, PositiveMoneyAmount

# The path parameter of `/sales/{sale_id}`.
SaleId = Annotated[int, Path(ge=1, le=MAX_ID)]
# A sale filter by the id of a product, category or order.
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
MAX_QUANTITY = 1_000_000


class SaleCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"product_id": 42, "quantity": 2},
                {
                    "product_id": 42,
                    "quantity": 1,
                    "unit_price": "11.90",
                    "sold_at": "2026-03-01T12:00:00Z",
                },
            ]
        }
    )

    product_id: int = Field(ge=1, le=2_147_483_647)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price: PositiveMoneyAmount | None = Field(
        default=None, description="Defaults to the price"
    )
    sold_at: Instant | None = Field(
        default=None, description="When it sold (with a UTC offset); defaults to now"
    )


class SaleRead(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 901,
                    "kind": "sale",
                    "product_id": 42,
                    "category_id": 3,
                    "order_id": None,
                    "refund_of_id": None,
                    "quantity": 2,
                    "unit_price": "12.50",
                    "unit_cost": "4.20",
                    "revenue": "25.00",
                    "cost": "8.40",
                    "sold_at": "2026-03-01T12:00:00Z",
                    "business_date": "2026-03-01",
                    "actor": "user:1",
                }
            ]
        }
    )

    id: int
    kind: SaleKind
    product_id: int
    category_id: int
    order_id: int | None
    refund_of_id: int | None
    quantity: int
    unit_price: Decimal
    unit_cost: Decimal
    revenue: Decimal
    cost: Decimal
    sold_at: datetime
    business_date: date
    actor: str | None


class SaleSort(StrEnum):
    sold_at = "sold_at"
    newest = "-sold_at"
    revenue = "revenue"
    highest_revenue = "-revenue"
