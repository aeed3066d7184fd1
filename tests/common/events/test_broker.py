"""Every event reaches JetStream once, on `shop.events.<type>`, even when republished."""

from __future__ import annotations

import asyncio
import json

import nats
from httpx import AsyncClient
from nats.js.api import DeliverPolicy
from sqlalchemy import select, update

from common.config import Settings
from common.db import Database
from common.events.broker import STREAM
from common.events.dispatcher import Dispatcher
from common.models.events import OutboxEvent
from common.models.identity import Role
from tests.fixtures.clients import client_for
from tests.fixtures.factories import Catalog
from tests.fixtures.nats import require_nats


async def test_a_jetstream_consumer_receives_every_event_once(
    settings: Settings, committed_database: Database
) -> None:
    url = require_nats()
    broker_settings = settings.model_copy(update={"event_broker_url": url})
    connection = await nats.connect(url)
    try:
        jetstream = connection.jetstream()
        dispatcher = Dispatcher(committed_database, broker_settings)
        await dispatcher.run_once()  # makes the stream, publishes whatever is left over
        subscription = await jetstream.subscribe(
            "shop.events.>", stream=STREAM, deliver_policy=DeliverPolicy.NEW
        )
        async for client in client_for("sales", settings, committed_database, as_=Role.admin):
            async for products in client_for(
                "products", settings, committed_database, as_=Role.admin
            ):
                catalog = Catalog(products)
                product = await catalog.product(category_id=await catalog.category(), stock=50)
            for _ in range(5):
                sold = await client.post(
                    "/api/v1/sales", json={"product_id": product, "quantity": 1}
                )
                assert sold.status_code == 201
            await _publish_twice(dispatcher, committed_database)
            ours = await _event_ids(client)
        received: dict[str, list[tuple[str, str]]] = {}
        async with asyncio.timeout(20):
            while set(received) != set(ours):
                message = await subscription.next_msg(timeout=10)
                event = json.loads(message.data)
                await message.ack()
                if event["id"] in ours:
                    received.setdefault(event["id"], []).append(
                        (message.subject, (message.headers or {}).get("Nats-Msg-Id", ""))
                    )
        # Whatever is still in flight for us would show up now.
        extra = []
        try:
            while True:
                message = await subscription.next_msg(timeout=1)
                if json.loads(message.data)["id"] in ours:
                    extra.append(message)
        except nats.errors.TimeoutError:
            pass
        assert extra == []
        for event_id, event_type in ours.items():
            assert received[event_id] == [(f"shop.events.{event_type}", event_id)]
        await dispatcher.close()
    finally:
        await connection.close()


async def _publish_twice(dispatcher: Dispatcher, database: Database) -> None:
    """Publish, forget that it was published (a dispatcher that died before marking), and
    publish again: JetStream drops the copies by `Nats-Msg-Id`."""
    await dispatcher.run_once()
    async with database.session_factory() as session:
        await session.execute(update(OutboxEvent).values(published_at=None))
        await session.commit()
    await dispatcher.run_once()
    async with database.session_factory() as session:
        left = await session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None))
        )
        assert left.all() == []


async def _event_ids(client: AsyncClient) -> dict[str, str]:
    response = await client.get("/api/v1/events", params={"limit": 200})
    return {event["id"]: event["type"] for event in response.json()["items"]}
