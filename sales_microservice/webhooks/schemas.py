"""Webhook subscriptions and their deliveries, as the admin API reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, Field, model_validator

from common.events.types import SUBSCRIBABLE
from common.events.webhooks import ALL_TYPES, decode_types
from common.models.events import (
    EVENT_TYPE_MAX,
    WEBHOOK_DESCRIPTION_MAX,
    WEBHOOK_URL_MAX,
    WebhookDelivery,
    WebhookSubscription,
)
from common.schemas import Schema
from common.schemas.base import PatchSchema
from common.schemas.fields import MAX_ID, TEXT_PATTERN

WebhookId = Annotated[int, Path(ge=1, le=MAX_ID)]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID)]
_NAMES = sorted({ALL_TYPES, *SUBSCRIBABLE})


def _known_type(value: str) -> str:
    if value not in _NAMES:
        raise ValueError(f"unknown event type {value!r}")
    return value


SubscribedType = Annotated[
    str,
    Field(max_length=EVENT_TYPE_MAX, json_schema_extra={"enum": _NAMES}),
    AfterValidator(_known_type),
]
EventTypes = Annotated[list[SubscribedType], Field(min_length=1, max_length=len(_NAMES))]
Url = Annotated[
    str,
    Field(
        min_length=8,
        max_length=WEBHOOK_URL_MAX,
        pattern="^https?://[\\x21-\\x7e]+$",
        examples=["https://erp.example.com/hooks/shop"],
    ),
]
Description = Annotated[str, Field(max_length=WEBHOOK_DESCRIPTION_MAX, pattern=TEXT_PATTERN)]


class WebhookCreate(Schema):
    url: Url
    event_types: EventTypes = Field(examples=[["order.paid", "stock.low"]])
    description: Description | None = None


class WebhookUpdate(PatchSchema):
    """Only the fields sent change; `status` pauses (`paused`) or resumes (`active`, which
    also revives a subscription disabled after a day of failures)."""

    clearable = frozenset({"description"})

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    status: Literal["active", "paused"] | None = None


class WebhookRead(Schema):
    id: int
    url: str
    event_types: list[str]
    description: str | None
    status: str = Field(examples=["active"], description="active, paused or disabled")
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if isinstance(value, WebhookSubscription):
            return {
                name: getattr(value, name)
                for name in WebhookRead.model_fields
                if name != "event_types"
            } | {"event_types": decode_types(value.event_types)}
        return value


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="The Standard Webhooks signing secret (`whsec_...`): shown only here"
    )

    @classmethod
    def of(cls, subscription: WebhookSubscription) -> WebhookCreated:
        read = WebhookRead.model_validate(subscription)
        return cls(**read.model_dump(), secret=subscription.secret)


class DeliveryRead(Schema):
    id: int
    subscription_id: int
    event_id: str = Field(description="The event's id (the `webhook-id` header)")
    event_type: str
    status: str = Field(examples=["pending"], description="pending, succeeded or failed")
    attempts: int
    last_status_code: int | None
    last_attempt_at: datetime | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="Null once it succeeded or failed")
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: WebhookDelivery, *, event_id: str, event_type: str) -> DeliveryRead:
        return cls(
            id=delivery.id,
            subscription_id=delivery.subscription_id,
            event_id=event_id,
            event_type=event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_attempt_at=delivery.last_attempt_at,
            last_error=delivery.last_error,
            next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
        )
