from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import Field, model_validator

from common.models.inventory import REFERENCE_MAX, ReservationStatus
from common.reservations.schemas import StockLines
from common.reservations.service import effective_status
from common.schemas import Schema
from common.schemas.fields import MAX_ID, trimmed

# The path parameter of `/inventory/reservations/{reservation_id}/...`.
ReservationId = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_TTL_SECONDS = 86_400


class ReservationCreate(Schema):
    items: StockLines
    ttl_seconds: int = Field(ge=1, le=MAX_TTL_SECONDS, description="How long to hold the stock")
    reference: Annotated[str, trimmed(REFERENCE_MAX)] | None = None


class ReservationItemRead(Schema):
    product_id: int
    quantity: int


class ReservationRead(Schema):
    id: int
    status: ReservationStatus = Field(
        description="`expired` as soon as `expires_at` passes, whether or not swept yet"
    )
    reference: str | None
    expires_at: datetime
    created_at: datetime
    items: list[ReservationItemRead]

    @model_validator(mode="after")
    def _as_of_now(self) -> ReservationRead:
        self.status = ReservationStatus(effective_status(self.status, self.expires_at))
        return self
