"""Requests and responses of categories and products."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, computed_field

from common.catalog.schemas import (
    CategoryDescription,
    CategoryName,
    CostPrice,
    ImageUrl,
    Price,
    ProductDescription,
    ProductName,
    Sku,
    Threshold,
)
from common.inventory.availability import StockStatus, stock_status_of
from common.models.catalog import MAX_STOCK, ProductStatus
from common.schemas import Schema
from common.schemas.base import PatchSchema
from common.schemas.fields import Id

ProductSort = Literal[
    "name", "-name", "price", "-price", "created_at", "-created_at", "stock", "-stock"
]


class CategoryCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Mugs", "description": "Ceramic and enamel"}]}
    )

    name: CategoryName
    description: CategoryDescription | None = None


class CategoryUpdate(PatchSchema):
    clearable = frozenset({"description"})

    name: CategoryName | None = None
    description: CategoryDescription | None = None


class CategoryRead(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "name": "Mugs",
                    "slug": "mugs",
                    "description": "Ceramic and enamel",
                    "product_count": 12,
                    "archived_product_count": 1,
                    "created_at": "2026-03-01T09:30:00Z",
                    "updated_at": "2026-03-01T09:30:00Z",
                }
            ]
        }
    )

    id: int
    name: str
    slug: str
    description: str | None
    product_count: int = Field(description="Active products in the category")
    archived_product_count: int = Field(description="Archived products still filed under it")
    created_at: datetime
    updated_at: datetime


class CategoryRef(Schema):
    id: int
    name: str
    slug: str


class ProductCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sku": "MUG-BLUE-350",
                    "name": "Blue enamel mug, 350 ml",
                    "description": "Dishwasher safe.",
                    "category_id": 3,
                    "price": "12.50",
                    "cost_price": "4.20",
                    "low_stock_threshold": 10,
                    "initial_stock": 40,
                }
            ]
        }
    )

    sku: Sku
    name: ProductName
    description: ProductDescription | None = None
    category_id: Id
    price: Price
    cost_price: CostPrice | None = None
    image_url: ImageUrl | None = None
    low_stock_threshold: Threshold = 10
    initial_stock: int = Field(default=0, ge=0, le=MAX_STOCK)


class ProductUpdate(PatchSchema):
    """Any subset of the product's fields. Stock is not here: it moves only through the
    inventory ledger."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"price": "11.90", "low_stock_threshold": 5}]}
    )
    clearable = frozenset({"description", "cost_price", "image_url"})

    sku: Sku | None = None
    name: ProductName | None = None
    description: ProductDescription | None = None
    category_id: Id | None = None
    price: Price | None = None
    cost_price: CostPrice | None = None
    image_url: ImageUrl | None = None
    low_stock_threshold: Threshold | None = None
    status: ProductStatus | None = None


class ProductRead(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "sku": "MUG-BLUE-350",
                    "name": "Blue enamel mug, 350 ml",
                    "description": "Dishwasher safe.",
                    "category_id": 3,
                    "category": {"id": 3, "name": "Mugs", "slug": "mugs"},
                    "price": "12.50",
                    "cost_price": "4.20",
                    "image_url": None,
                    "status": "active",
                    "low_stock_threshold": 10,
                    "stock_on_hand": 40,
                    "reserved": 2,
                    "available": 38,
                    "stock_status": "in_stock",
                    "rating_count": 5,
                    "rating_average": "4.40",
                    "created_at": "2026-03-01T09:30:00Z",
                    "updated_at": "2026-03-02T16:05:00Z",
                }
            ]
        }
    )

    id: int
    sku: str
    name: str
    description: str | None
    category_id: int
    category: CategoryRef
    price: Decimal
    cost_price: Decimal | None = Field(
        description="What the product costs the shop; admins only, null for everyone else"
    )
    image_url: str | None
    status: ProductStatus
    # Exact stock is the shop's business (a competitor or a scalper reads it): admins see the
    # numbers, everyone else `stock_status` only.
    low_stock_threshold: int | None = Field(description="Admins only, null for everyone else")
    stock_on_hand: int | None = Field(description="Admins only, null for everyone else")
    reserved: int | None = Field(
        description="Units held by active reservations; admins only, null for everyone else"
    )
    rating_count: int = Field(description="Approved reviews")
    rating_average: Decimal | None = Field(
        description="Mean rating of approved reviews (2 decimals); null without any"
    )
    created_at: datetime
    updated_at: datetime

    # Worked out from the numbers when the product is read, so it survives `public_view`.
    _stock_status: StockStatus = PrivateAttr(default=StockStatus.OUT_OF_STOCK)

    def model_post_init(self, context: Any, /) -> None:
        if self.available is not None and self.low_stock_threshold is not None:
            self._stock_status = stock_status_of(self.available, self.low_stock_threshold)

    @computed_field(  # type: ignore[prop-decorator]
        description="On hand minus reserved; admins only, null for everyone else"
    )
    @property
    def available(self) -> int | None:
        if self.stock_on_hand is None or self.reserved is None:
            return None
        return self.stock_on_hand - self.reserved

    @computed_field(description="What everyone sees of the stock")  # type: ignore[prop-decorator]
    @property
    def stock_status(self) -> StockStatus:
        return self._stock_status

    def public_view(self) -> ProductRead:
        """What anyone but an admin sees: no cost, no stock numbers, the status only."""
        return self.model_copy(
            update={
                "cost_price": None,
                "low_stock_threshold": None,
                "stock_on_hand": None,
                "reserved": None,
            }
        )
