from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, ConfigDict, Field, model_validator

from common.models.orders import NOTES_MAX, REASON_MAX, SHIPPING_ADDRESS_MAX, OrderStatus
from common.orders.status import effective_order_status
from common.reservations.schemas import MAX_LINES, StockLine, each_product_once
from common.schemas import Schema
from common.schemas.fields import MAX_ID, Id, trimmed

# The path parameter of `/orders/{order_id}/...`.
OrderId = Annotated[int, Path(ge=1, le=MAX_ID)]


class OrderLine(StockLine):
    # Prices are the store's: a `unit_price` a client sends is ignored, not an error, so
    # carts that echo the price they displayed keep working.
    model_config = ConfigDict(extra="ignore")


class OrderCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [{"product_id": 42, "quantity": 2}],
                    "shipping_address": "12 Harbour Street, Bristol BS1 4QA",
                    "notes": "Leave with the neighbour",
                }
            ]
        }
    )

    items: Annotated[
        list[OrderLine],
        Field(min_length=1, max_length=MAX_LINES),
        AfterValidator(each_product_once),
    ]
    shipping_address: Annotated[str, trimmed(SHIPPING_ADDRESS_MAX)]
    notes: Annotated[str, trimmed(NOTES_MAX)] | None = None
    customer_id: Id | None = Field(
        None, description="Admins: whose order this is. Customers: omit (or their own id)."
    )


class OrderCancel(Schema):
    reason: Annotated[str, trimmed(REASON_MAX)]


class OrderStatusUpdate(Schema):
    status: OrderStatus
    note: Annotated[str, trimmed(REASON_MAX)] | None = None


class OrderItemRead(Schema):
    product_id: int
    quantity: int
    unit_price: Decimal
    line_total: Decimal


class OrderRead(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 77,
                    "customer_id": 7,
                    "status": "pending",
                    "items": [
                        {
                            "product_id": 42,
                            "quantity": 2,
                            "unit_price": "12.50",
                            "line_total": "25.00",
                        }
                    ],
                    "total": "25.00",
                    "shipping_address": "12 Harbour Street, Bristol BS1 4QA",
                    "notes": "Leave with the neighbour",
                    "reservation_id": 120,
                    "expires_at": "2026-03-01T12:15:00Z",
                    "created_at": "2026-03-01T12:00:00Z",
                    "paid_at": None,
                }
            ]
        }
    )

    id: int
    customer_id: int
    status: OrderStatus = Field(
        description="A pending order past `expires_at` reads `expired`, swept or not"
    )
    items: list[OrderItemRead]
    total: Decimal
    shipping_address: str
    notes: str | None
    reservation_id: int
    expires_at: datetime = Field(description="A pending order must be paid before this")
    created_at: datetime
    paid_at: datetime | None

    @model_validator(mode="after")
    def _as_of_now(self) -> OrderRead:
        self.status = OrderStatus(effective_order_status(self.status, self.expires_at))
        return self


class StatusChangeRead(Schema):
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor_id: int | None
    reason: str | None
    created_at: datetime
