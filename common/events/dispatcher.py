"""The dispatcher: turns committed events into webhook deliveries and broker messages.

Runs in every replica of both services (`run_dispatcher`), any number at once. Each pass:

1. Fan-out: claims events not yet fanned out (`FOR UPDATE SKIP LOCKED`, oldest first) and
   writes one delivery per subscription that wants the type, in one transaction.
2. Deliveries: claims due deliveries (`SKIP LOCKED`) and, in that short transaction, counts
   the attempt and moves `next_attempt_at` to the end of a lease (the timeout plus a margin).
   The POSTs run after the commit, holding no lock; each outcome is written only if the
   delivery is still on that attempt. So two replicas never make the same attempt, and a
   replica that dies mid-delivery leaves a delivery that is due again when its lease ends:
   at least once, never lost.
3. Broker (when `EVENT_BROKER_URL` is set): claims unpublished events (`SKIP LOCKED`),
   publishes them with their id as `Nats-Msg-Id` and marks them published in the same
   transaction; a crash in between republishes, and JetStream drops the duplicate.

Lock order: event rows, then delivery rows, then the subscription row.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from prometheus_client import Counter, Gauge
from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.engine import Database
from common.db.transaction import run_in_transaction
from common.db.types import utcnow
from common.events.broker import Broker
from common.events.http import TargetRefused, post
from common.events.outbox import emit, entity, envelope
from common.events.types import EventType
from common.events.webhooks import retry_delay, signed_headers, wants
from common.models.events import (
    DeliveryStatus,
    OutboxEvent,
    SubscriptionStatus,
    WebhookDelivery,
    WebhookSubscription,
)

logger = logging.getLogger(__name__)
# A claimed attempt stays claimed this much longer than the request may take.
LEASE_MARGIN = timedelta(seconds=5)
MAX_ERROR_LENGTH = 500

# On /metrics of both services (every replica dispatches).
DISPATCH_LAG = Gauge(
    "events_dispatch_lag_seconds",
    "Age of the oldest committed event or due delivery still waiting for the dispatcher.",
    registry=None,
)
DISPATCH_PASSES = Counter(
    "events_dispatch_passes", "Dispatcher passes by outcome.", ["outcome"], registry=None
)
WEBHOOK_DELIVERIES = Counter(
    "webhook_deliveries", "Webhook delivery attempts by outcome.", ["outcome"], registry=None
)
BROKER_PUBLISHES = Counter(
    "event_broker_publishes",
    "Events published to the broker, by outcome.",
    ["outcome"],
    registry=None,
)
DISPATCHER_METRICS = (DISPATCH_LAG, DISPATCH_PASSES, WEBHOOK_DELIVERIES, BROKER_PUBLISHES)


@dataclass(frozen=True)
class Claim:
    """One attempt this dispatcher owns until `lease_ends`."""

    delivery_id: int
    attempt: int
    url: str
    secret: str
    message_id: str
    body: str


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def fan_out(session: AsyncSession, *, batch_size: int) -> int:
    """Deliveries for a batch of new events; returns how many events it fanned out."""
    events = (
        await session.execute(
            select(OutboxEvent.id, OutboxEvent.type)
            .where(OutboxEvent.fanned_out_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not events:
        return 0
    # Paused subscriptions queue their deliveries (sent on resume); disabled ones take none.
    subscriptions = (
        await session.execute(
            select(WebhookSubscription.id, WebhookSubscription.event_types).where(
                WebhookSubscription.status != SubscriptionStatus.DISABLED.value
            )
        )
    ).all()
    now = utcnow()
    rows = [
        {
            "subscription_id": subscription.id,
            "event_id": event.id,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event in events
        for subscription in subscriptions
        if wants(subscription.event_types, event.type)
    ]
    if rows:
        await session.execute(insert(WebhookDelivery), rows)
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_([event.id for event in events]))
        .values(fanned_out_at=now)
    )
    return len(events)


async def claim_deliveries(
    session: AsyncSession, *, batch_size: int, lease: timedelta
) -> list[Claim]:
    """Take the due deliveries of active subscriptions that no other dispatcher holds."""
    now = utcnow()
    active = (
        await session.scalars(
            select(WebhookSubscription.id).where(
                WebhookSubscription.status == SubscriptionStatus.ACTIVE.value
            )
        )
    ).all()
    if not active:
        return []
    deliveries = (
        await session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                WebhookDelivery.next_attempt_at <= now,
                WebhookDelivery.subscription_id.in_(active),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not deliveries:
        return []
    events = {
        event.id: event
        for event in await session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.id.in_({delivery.event_id for delivery in deliveries})
            )
        )
    }
    subscriptions = {
        subscription.id: subscription
        for subscription in await session.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.id.in_({delivery.subscription_id for delivery in deliveries})
            )
        )
    }
    claims = []
    for delivery in deliveries:
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + lease
        event = events[delivery.event_id]
        subscription = subscriptions[delivery.subscription_id]
        claims.append(
            Claim(
                delivery_id=delivery.id,
                attempt=delivery.attempts,
                url=subscription.url,
                secret=subscription.secret,
                message_id=event.event_id,
                body=json.dumps(envelope(event), separators=(",", ":")),
            )
        )
    return claims


async def attempt(claim: Claim, *, deadline_seconds: float, allow_private: bool) -> Outcome:
    """One signed POST; never raises for anything the target or the network does."""
    headers = signed_headers(
        claim.secret, message_id=claim.message_id, body=claim.body, at=utcnow()
    )
    try:
        status_code = await post(
            claim.url,
            claim.body.encode(),
            headers,
            deadline_seconds=deadline_seconds,
            allow_private=allow_private,
        )
    except TargetRefused as refused:
        return Outcome(None, refused.detail)
    except TimeoutError:
        return Outcome(None, f"no answer within {deadline_seconds:g} s")
    except (OSError, UnicodeError, ValueError) as error:
        return Outcome(None, f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH])
    return Outcome(status_code, None if 200 <= status_code < 300 else f"HTTP {status_code}")


async def record_outcome(
    session: AsyncSession, claim: Claim, outcome: Outcome, *, settings: Settings
) -> None:
    """Write what the attempt got, unless another dispatcher took the delivery over after
    this one's lease ended (then its attempt is the one that counts)."""
    delivery = await session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == claim.delivery_id).with_for_update()
    )
    if (
        delivery is None
        or delivery.attempts != claim.attempt
        or delivery.status != DeliveryStatus.PENDING.value
    ):
        return
    now = utcnow()
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    subscription = await session.scalar(
        select(WebhookSubscription)
        .where(WebhookSubscription.id == delivery.subscription_id)
        .with_for_update()
    )
    assert subscription is not None  # deliveries go with their subscription (cascade)
    give_up = timedelta(seconds=settings.webhook_give_up_seconds)
    if outcome.succeeded:
        WEBHOOK_DELIVERIES.labels(outcome="succeeded").inc()
        delivery.status = DeliveryStatus.SUCCEEDED.value
        delivery.delivered_at = now
        subscription.failing_since = None
        return
    WEBHOOK_DELIVERIES.labels(outcome="failed").inc()
    if now - delivery.created_at >= give_up:
        delivery.status = DeliveryStatus.FAILED.value
    else:
        delivery.next_attempt_at = now + retry_delay(
            delivery.attempts, base_seconds=settings.webhook_retry_base_seconds
        )
    if subscription.failing_since is None:
        subscription.failing_since = now
    elif (
        now - subscription.failing_since >= give_up
        and subscription.status == SubscriptionStatus.ACTIVE.value
    ):
        subscription.status = SubscriptionStatus.DISABLED.value
        emit(
            session,
            EventType.WEBHOOK_DISABLED,
            entity(subscription),
            changes={"reason": f"every delivery failed since {subscription.failing_since}"},
        )


async def publish_batch(session: AsyncSession, broker: Broker, *, batch_size: int) -> int:
    """Publish a batch of unpublished events and mark them; a failure rolls the marks back."""
    events = (
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not events:
        return 0
    await asyncio.gather(
        *(
            broker.publish(
                event_id=event.event_id,
                event_type=event.type,
                body=json.dumps(envelope(event), separators=(",", ":")).encode(),
            )
            for event in events
        )
    )
    now = utcnow()
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_([event.id for event in events]))
            .values(published_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    BROKER_PUBLISHES.labels(outcome="published").inc(result.rowcount)
    return len(events)


async def lag_seconds(session: AsyncSession, *, broker: bool) -> float:
    """How far behind the dispatchers are: the oldest event not fanned out (or not
    published, with a broker) and the oldest due delivery."""
    now = utcnow()
    waiting: list[datetime | None] = [
        await session.scalar(
            select(func.min(OutboxEvent.occurred_at)).where(OutboxEvent.fanned_out_at.is_(None))
        ),
        await session.scalar(
            select(func.min(WebhookDelivery.next_attempt_at)).where(
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                WebhookDelivery.next_attempt_at <= now,
            )
        ),
    ]
    if broker:
        waiting.append(
            await session.scalar(
                select(func.min(OutboxEvent.occurred_at)).where(OutboxEvent.published_at.is_(None))
            )
        )
    oldest = [moment for moment in waiting if moment is not None]
    return max(0.0, (now - min(oldest)).total_seconds()) if oldest else 0.0


class Dispatcher:
    """One replica's dispatcher: `run_once` is a pass; `run_dispatcher` loops it."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._broker: Broker | None = None

    async def _transaction(self, work: Any) -> Any:
        return await run_in_transaction(
            self.database.session_factory, work, attempts=self.database.retry_attempts
        )

    async def run_once(self) -> int:
        """One pass; returns how many events and deliveries it handled."""
        batch = self.settings.event_dispatch_batch_size
        handled = 0
        while fanned := await self._transaction(lambda session: fan_out(session, batch_size=batch)):
            handled += fanned
            if fanned < batch:
                break
        handled += await self.deliver_due()
        if self.settings.event_broker_url:
            handled += await self.publish()
        DISPATCH_LAG.set(
            await self._transaction(
                lambda session: lag_seconds(session, broker=bool(self.settings.event_broker_url))
            )
        )
        return handled

    async def deliver_due(self) -> int:
        lease = timedelta(seconds=self.settings.webhook_timeout_seconds) + LEASE_MARGIN
        claims: list[Claim] = await self._transaction(
            lambda session: claim_deliveries(
                session, batch_size=self.settings.event_dispatch_batch_size, lease=lease
            )
        )
        outcomes: Sequence[Outcome] = await asyncio.gather(
            *(
                attempt(
                    claim,
                    deadline_seconds=self.settings.webhook_timeout_seconds,
                    allow_private=self.settings.webhook_allow_private,
                )
                for claim in claims
            )
        )
        for claim, outcome in zip(claims, outcomes, strict=True):
            await self._transaction(
                lambda session, claim=claim, outcome=outcome: record_outcome(
                    session, claim, outcome, settings=self.settings
                )
            )
        return len(claims)

    async def publish(self) -> int:
        url = self.settings.event_broker_url
        assert url is not None
        try:
            if self._broker is None:
                self._broker = await Broker.connect(url)
            broker = self._broker
            published: int = await self._transaction(
                lambda session: publish_batch(
                    session, broker, batch_size=self.settings.event_dispatch_batch_size
                )
            )
        except Exception:
            # Unreachable broker: the events stay unpublished and the next pass tries again.
            BROKER_PUBLISHES.labels(outcome="failed").inc()
            await self.close()
            raise
        return published

    async def close(self) -> None:
        if self._broker is not None:
            broker, self._broker = self._broker, None
            await broker.close()


async def run_dispatcher(database: Database, settings: Settings) -> None:
    """Dispatch every `EVENT_DISPATCH_INTERVAL_SECONDS` until cancelled; 0 turns it off."""
    if settings.event_dispatch_interval_seconds <= 0:
        return
    dispatcher = Dispatcher(database, settings)
    try:
        while True:
            try:
                handled = await dispatcher.run_once()
            except Exception:
                # A database or broker outage must not end the loop.
                DISPATCH_PASSES.labels(outcome="failed").inc()
                logger.exception("event dispatch failed")
                handled = 0
            else:
                DISPATCH_PASSES.labels(outcome="ok").inc()
            if not handled:
                await asyncio.sleep(settings.event_dispatch_interval_seconds)
    finally:
        await dispatcher.close()
