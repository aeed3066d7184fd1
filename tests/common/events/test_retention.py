"""The sweeper deletes old events once nothing waits on them, and keeps the rest."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from common.db import Database, utcnow
from common.models.events import (
    DeliveryStatus,
    OutboxEvent,
    SubscriptionStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from common.ops.sweeper import sweep_batch

RETENTION = timedelta(days=30)


def _event(
    name: str, *, age: timedelta, fanned: bool = True, published: bool = True
) -> OutboxEvent:
    moment: datetime = utcnow() - age
    return OutboxEvent(
        event_id=str(uuid.uuid4()),
        type="sale.recorded",
        occurred_at=moment,
        payload=json.dumps({"data": {"name": name}}),
        fanned_out_at=moment if fanned else None,
        published_at=moment if published else None,
    )


async def test_old_finished_events_go_and_everything_still_waited_on_stays(
    isolated_database: Database,
) -> None:
    old = timedelta(days=31)
    async with isolated_database.session_factory() as session:
        subscription = WebhookSubscription(
            url="https://hooks.example.com/x",
            event_types='["*"]',
            secret="whsec_x",
            status=SubscriptionStatus.ACTIVE.value,
        )
        events = {
            "old, delivered": _event("old, delivered", age=old),
            "old, failed": _event("old, failed", age=old),
            "old, still pending": _event("old, still pending", age=old),
            "old, not fanned out": _event("old, not fanned out", age=old, fanned=False),
            "old, not published": _event("old, not published", age=old, published=False),
            "recent": _event("recent", age=timedelta(days=29)),
        }
        session.add_all([subscription, *events.values()])
        await session.flush()
        for name, status in (
            ("old, delivered", DeliveryStatus.SUCCEEDED),
            ("old, failed", DeliveryStatus.FAILED),
            ("old, still pending", DeliveryStatus.PENDING),
        ):
            session.add(
                WebhookDelivery(
                    subscription_id=subscription.id,
                    event_id=events[name].id,
                    status=status.value,
                    attempts=1,
                )
            )
        await session.flush()
        result = await sweep_batch(
            session,
            batch_size=100,
            login_window=timedelta(minutes=15),
            event_retention=RETENTION,
            broker=True,
        )
        kept = set((await session.scalars(select(OutboxEvent.payload))).all())
        deliveries = (await session.scalars(select(WebhookDelivery.status))).all()
    assert result.events_deleted == 2
    assert {json.loads(payload)["data"]["name"] for payload in kept} == {
        "old, still pending",
        "old, not fanned out",
        "old, not published",
        "recent",
    }
    assert deliveries == [DeliveryStatus.PENDING.value]


async def test_without_a_broker_unpublished_events_are_not_waited_for(
    isolated_database: Database,
) -> None:
    async with isolated_database.session_factory() as session:
        session.add(_event("old, no broker", age=timedelta(days=31), published=False))
        await session.flush()
        result = await sweep_batch(
            session,
            batch_size=100,
            login_window=timedelta(minutes=15),
            event_retention=RETENTION,
            broker=False,
        )
    assert result.events_deleted == 1
