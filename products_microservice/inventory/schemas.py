"""Requests and responses of the inventory ledger."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from common.inventory.availability import StockStatus
from common.inventory.levels import LevelInterval
from common.models.catalog import MAX_STOCK
from common.models.inventory import NOTE_MAX, REFERENCE_MAX, MovementKind
from common.schemas import Schema
from common.schemas.fields import trimmed

# Kinds a person may record by hand; sales, initial stock and imports come from their flows.
AdjustmentKind = Literal["restock", "adjustment", "damage", "return", "correction"]
_INCOMING = {"restock", "return"}
_OUTGOING = {"damage"}


class AdjustmentCreate(Schema):
    """Either `{delta, kind}` (a signed change) or `{set_to}` (a stock count)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"delta": 24, "kind": "restock", "reference": "PO-1042", "note": "Spring delivery"},
                {"set_to": 61, "expected_on_hand": 64, "note": "Shelf count"},
            ]
        }
    )

    delta: int | None = Field(
        default=None, ge=-MAX_STOCK, le=MAX_STOCK, description="Signed change, never 0"
    )
    kind: AdjustmentKind | None = Field(
        default=None, description="Required with `delta`; with `set_to` defaults to adjustment"
    )
    set_to: int | None = Field(default=None, ge=0, le=MAX_STOCK, description="The counted level")
    expected_on_hand: int | None = Field(
        default=None,
        ge=0,
        le=MAX_STOCK,
        description="Compare-and-set: refuse with 409 `stale_stock` unless this is on hand",
    )
    reference: Annotated[str, trimmed(REFERENCE_MAX)] | None = None
    note: Annotated[str, trimmed(NOTE_MAX)] | None = None

    @model_validator(mode="after")
    def _one_way_to_change(self) -> AdjustmentCreate:
        if (self.delta is None) == (self.set_to is None):
            raise ValueError("give exactly one of `delta` and `set_to`")
        if self.delta is not None:
            if self.delta == 0:
                raise ValueError("`delta` must not be 0: the adjustment would change nothing")
            if self.kind is None:
                raise ValueError("`kind` is required with `delta`")
            if self.kind in _INCOMING and self.delta < 0:
                raise ValueError(f"a {self.kind} adds stock: `delta` must be positive")
            if self.kind in _OUTGOING and self.delta > 0:
                raise ValueError(f"{self.kind} removes stock: `delta` must be negative")
        return self


class MovementRead(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 318,
                    "product_id": 42,
                    "kind": "restock",
                    "delta": 24,
                    "quantity_after": 64,
                    "reference": "PO-1042",
                    "actor": "user:1",
                    "note": "Spring delivery",
                    "created_at": "2026-03-02T08:15:00Z",
                }
            ]
        }
    )

    id: int
    product_id: int
    kind: MovementKind
    delta: int
    quantity_after: int = Field(description="The product's on-hand level right after it")
    reference: str | None
    actor: str | None
    note: str | None
    created_at: datetime


class ProductInventory(Schema):
    product_id: int
    sku: str
    on_hand: int
    reserved: int
    available: int
    low_stock_threshold: int
    stock_status: StockStatus
    last_movement: MovementRead | None


class InventoryLevel(Schema):
    product_id: int
    sku: str
    name: str
    category_id: int
    on_hand: int = Field(description="On hand now, or at `as_of`")
    reserved: int | None = Field(description="Null for past levels (`as_of`)")
    available: int
    low_stock_threshold: int
    stock_status: StockStatus
    as_of: datetime | None = Field(default=None, description="The moment of a past level")


class LowStockItem(Schema):
    product_id: int
    sku: str
    name: str
    category_id: int
    on_hand: int
    reserved: int
    available: int
    low_stock_threshold: int
    shortfall: int = Field(description="Units needed to get back to the threshold")
    stock_status: StockStatus
    days_of_cover: Decimal | None = Field(
        description="Available units / average daily units sold over 30 days; null without sales"
    )


class StockTotals(Schema):
    product_count: int
    total_units: int
    value_at_cost: Decimal = Field(description="Products without a cost price count as 0")
    value_at_price: Decimal
    in_stock_count: int
    low_stock_count: int
    out_of_stock_count: int


class CategoryStock(StockTotals):
    category_id: int
    category_name: str


class InventorySummary(StockTotals):
    by_category: list[CategoryStock]


class LevelPointRead(Schema):
    period_start: date = Field(description="First local day of the bucket (store time zone)")
    level: int = Field(description="On hand at the end of the bucket")


class LevelSeries(Schema):
    product_id: int
    interval: LevelInterval
    timezone: str
    start: datetime
    end: datetime
    points: list[LevelPointRead]


class RollForwardFlows(Schema):
    """Units in, out and corrected by kind: each the sum of that kind's deltas in the range
    (sale and damage negative)."""

    initial: int
    restock: int
    import_: int = Field(alias="import")
    return_: int = Field(alias="return")
    sale: int
    damage: int
    adjustment: int
    correction: int


class RollForwardTotals(RollForwardFlows):
    opening_units: int
    opening_value: Decimal = Field(description="At cost price (`/inventory/summary`'s basis)")
    closing_units: int
    closing_value: Decimal


class RollForwardItem(RollForwardTotals):
    product_id: int
    sku: str
    name: str
    category_id: int


class RollForward(Schema):
    start: date = Field(description="First store day: opening is the level as it began")
    end: date = Field(description="Last store day, inclusive: closing is the level as it ended")
    timezone: str = Field(description="The store time zone the days are counted in")
    valuation: Literal["cost_price"] = Field(
        description="Values are units x the product's cost price (0 without one), the basis "
        "of `/inventory/summary`"
    )
    items: list[RollForwardItem]
    totals: RollForwardTotals = Field(description="Of every product the filters match")
    total: int = Field(description="Products the filters match")
    limit: int
    offset: int
