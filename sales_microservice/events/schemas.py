"""The event log as `GET /events` returns it: what webhooks and the broker carry too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from common.events.outbox import envelope
from common.models.events import OutboxEvent
from common.schemas import Schema


class EventRead(Schema):
    id: str = Field(description="Unique and stable: the `webhook-id` and `Nats-Msg-Id`")
    type: str = Field(examples=["sale.recorded"])
    occurred_at: datetime
    data: dict[str, Any] = Field(description="The entity as the API returns it")
    changes: dict[str, Any] | None = Field(
        default=None, description="What changed, for types that say (docs/events.md)"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_outbox(cls, value: Any) -> Any:
        return envelope(value) if isinstance(value, OutboxEvent) else value
