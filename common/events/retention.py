"""Retention: the sweeper deletes events `EVENT_RETENTION_DAYS` old once nothing waits on them
(fanned out, no delivery still pending, and published when a broker is configured); their
deliveries go with them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.types import utcnow
from common.models.events import DeliveryStatus, OutboxEvent, WebhookDelivery


async def delete_old_events(
    session: AsyncSession, *, retention: timedelta, broker: bool, batch_size: int
) -> int:
    """Up to `batch_size` of them, oldest first, skipping rows a dispatcher holds."""
    pending = exists().where(
        WebhookDelivery.event_id == OutboxEvent.id,
        WebhookDelivery.status == DeliveryStatus.PENDING.value,
    )
    conditions = [
        OutboxEvent.occurred_at < utcnow() - retention,
        OutboxEvent.fanned_out_at.is_not(None),
        ~pending,
    ]
    if broker:
        conditions.append(OutboxEvent.published_at.is_not(None))
    ids = (
        await session.scalars(
            select(OutboxEvent.id)
            .where(*conditions)
            .order_by(OutboxEvent.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if ids:
        # Deliveries first: SQLite enforces the cascade only with foreign keys switched on.
        await session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
        await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
    return len(ids)
