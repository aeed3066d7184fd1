"""The outbox (`outbox_event`: every business event, written in the transaction of its change)
and webhooks (`webhook_subscription`, one `webhook_delivery` per event and subscription)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import MYSQL_TABLE_ARGS, Base
from common.db.types import utcnow

EVENT_TYPE_MAX = 64
WEBHOOK_URL_MAX = 2000
WEBHOOK_DESCRIPTION_MAX = 500


class OutboxEvent(Base):
    """One business event. `id` orders the log (the keyset cursor); `event_id` is the public,
    stable id (the webhook's `webhook-id`, the broker's `Nats-Msg-Id`)."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        # The log read by type (`GET /events?type=`).
        Index(None, "type", "id"),
        # The dispatcher's two queues: events not yet turned into deliveries, not yet published.
        Index(None, "fanned_out_at", "id"),
        Index(None, "published_at", "id"),
        # Retention deletes by age.
        Index(None, "occurred_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(EVENT_TYPE_MAX))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # JSON text: `{"data": ..., "changes": ...}` as webhooks and the broker send it.
    payload: Mapped[str] = mapped_column(Text)
    # When the dispatcher wrote this event's deliveries (null: not yet).
    fanned_out_at: Mapped[datetime | None]
    # When JetStream acknowledged it (null: not yet, or no broker configured).
    published_at: Mapped[datetime | None]


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    # Failed for a day: delivery stopped until an admin resumes it.
    DISABLED = "disabled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def _known(column: str, values: type[StrEnum]) -> CheckConstraint:
    listed = ", ".join(f"'{value.value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_known")


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscription"
    __table_args__ = (_known("status", SubscriptionStatus), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(WEBHOOK_URL_MAX))
    # JSON list of event types; `["*"]` is every type.
    event_types: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(WEBHOOK_DESCRIPTION_MAX))
    # `whsec_` + base64, shown once when the subscription is made.
    secret: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=SubscriptionStatus.ACTIVE.value)
    # The first failure of the current run of failures (null after a success).
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """An event on its way to one subscription: at least once, retried with backoff."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        _known("status", DeliveryStatus),
        # The dispatcher's queue: pending deliveries whose next attempt is due.
        Index(None, "status", "next_attempt_at"),
        # A subscription's deliveries, newest first.
        Index(None, "subscription_id", "id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscription.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_event.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Due time of the next attempt; while an attempt runs, the end of its lease.
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
