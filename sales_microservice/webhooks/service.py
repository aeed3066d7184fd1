"""Webhook subscriptions and deliveries: the admin's side (sending is the dispatcher's)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.pagination import decode_cursor, encode_cursor, paginate
from common.db.types import utcnow
from common.errors import NotFound
from common.events.http import check_literal_target
from common.events.outbox import emit
from common.events.types import EventType
from common.events.webhooks import encode_types, new_secret
from common.models.events import (
    DeliveryStatus,
    OutboxEvent,
    SubscriptionStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from common.schemas import CursorPage, CursorParams, Page, PageParams
from sales_microservice.webhooks.schemas import (
    DeliveryRead,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
)


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    title = "Webhook subscription not found"


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"
    title = "Webhook delivery not found"


async def create_webhook(
    session: AsyncSession, payload: WebhookCreate, *, allow_private: bool
) -> WebhookSubscription:
    check_literal_target(payload.url, allow_private=allow_private)
    subscription = WebhookSubscription(
        url=payload.url,
        event_types=encode_types(payload.event_types),
        description=payload.description,
        secret=new_secret(),
        status=SubscriptionStatus.ACTIVE.value,
    )
    session.add(subscription)
    await session.flush()
    return subscription


async def list_webhooks(session: AsyncSession, page: PageParams) -> Page[WebhookRead]:
    statement = select(WebhookSubscription).order_by(WebhookSubscription.id)
    return await paginate(session, statement, page, schema=WebhookRead)


async def get_webhook(
    session: AsyncSession, webhook_id: int, *, lock: bool = False
) -> WebhookSubscription:
    statement = select(WebhookSubscription).where(WebhookSubscription.id == webhook_id)
    subscription = await session.scalar(statement.with_for_update() if lock else statement)
    if subscription is None:
        raise WebhookNotFound(f"No webhook subscription with id {webhook_id}.")
    return subscription


async def update_webhook(
    session: AsyncSession, webhook_id: int, payload: WebhookUpdate, *, allow_private: bool
) -> WebhookSubscription:
    subscription = await get_webhook(session, webhook_id, lock=True)
    if payload.url is not None:
        check_literal_target(payload.url, allow_private=allow_private)
        subscription.url = payload.url
    if payload.event_types is not None:
        subscription.event_types = encode_types(payload.event_types)
    if "description" in payload.model_fields_set:
        subscription.description = payload.description
    if payload.status is not None:
        if payload.status == SubscriptionStatus.ACTIVE.value:
            # Resuming starts a new run: a day of failures from now disables it again.
            subscription.failing_since = None
        subscription.status = payload.status
    subscription.updated_at = utcnow()
    await session.flush()
    return subscription


async def delete_webhook(session: AsyncSession, webhook_id: int) -> None:
    subscription = await get_webhook(session, webhook_id, lock=True)
    await session.delete(subscription)
    await session.flush()


async def _delivery_read(session: AsyncSession, delivery: WebhookDelivery) -> DeliveryRead:
    event = await session.get_one(OutboxEvent, delivery.event_id)
    return DeliveryRead.of(delivery, event_id=event.event_id, event_type=event.type)


async def send_test(session: AsyncSession, webhook_id: int) -> DeliveryRead:
    """A `webhook.test` event for this subscription only, sent by the next dispatcher pass:
    the route answers at once whatever the target does."""
    subscription = await get_webhook(session, webhook_id)
    event = emit(
        session,
        EventType.WEBHOOK_TEST,
        {"webhook_id": subscription.id, "url": subscription.url},
    )
    now = utcnow()
    # Never fanned out to others, never sent to the broker: it exists for this delivery.
    event.fanned_out_at = now
    event.published_at = now
    await session.flush()
    delivery = WebhookDelivery(
        subscription_id=subscription.id,
        event_id=event.id,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    await session.flush()
    return DeliveryRead.of(delivery, event_id=event.event_id, event_type=event.type)


async def list_deliveries(
    session: AsyncSession, webhook_id: int, cursor: CursorParams
) -> CursorPage[DeliveryRead]:
    """Newest first, with each delivery's event id and type."""
    await get_webhook(session, webhook_id)
    statement = (
        select(WebhookDelivery, OutboxEvent.event_id, OutboxEvent.type)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.subscription_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(cursor.limit + 1)
    )
    if cursor.cursor is not None:
        statement = statement.where(WebhookDelivery.id < decode_cursor(cursor.cursor))
    rows = (await session.execute(statement)).all()
    page = rows[: cursor.limit]
    return CursorPage[DeliveryRead](
        items=[DeliveryRead.of(row[0], event_id=row[1], event_type=row[2]) for row in page],
        next_cursor=encode_cursor(page[-1][0].id) if len(rows) > cursor.limit else None,
    )


async def retry_delivery(session: AsyncSession, delivery_id: int) -> DeliveryRead:
    """Due again now, whatever it is: a failed one gets another run of attempts, a
    delivered one is sent once more (the same `webhook-id`: receivers deduplicate)."""
    delivery = await session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    )
    if delivery is None:
        raise DeliveryNotFound(f"No webhook delivery with id {delivery_id}.")
    now = utcnow()
    delivery.status = DeliveryStatus.PENDING.value
    delivery.next_attempt_at = now
    # The give-up clock restarts with the retry.
    delivery.created_at = now
    delivery.delivered_at = None
    await session.flush()
    return await _delivery_read(session, delivery)
