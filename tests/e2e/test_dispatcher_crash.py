"""A dispatcher killed mid-delivery (a real sales service process, SIGKILL) loses nothing:
after a restart the event arrives, with the same `webhook-id`."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from common.db import Database
from common.models.events import DeliveryStatus, WebhookDelivery
from common.models.identity import Role
from tests.fixtures.clients import client_for
from tests.fixtures.databases import Backend
from tests.fixtures.factories import Catalog, bearer, make_account
from tests.fixtures.processes import SALES_APP, ServiceProcess
from tests.fixtures.receiver import running_receiver

DISPATCHING = {
    "EVENT_DISPATCH_INTERVAL_SECONDS": "0.1",
    "WEBHOOK_ALLOW_PRIVATE": "true",
    # The lease of an attempt is the timeout plus 5 s: the restarted one waits that long.
    "WEBHOOK_TIMEOUT_SECONDS": "1",
}


async def _delivery(database: Database) -> WebhookDelivery:
    async with database.session_factory() as session:
        (delivery,) = (await session.scalars(select(WebhookDelivery))).all()
        return delivery


async def test_a_dispatcher_killed_mid_delivery_delivers_after_restart(
    backend: Backend, committed_database: Database
) -> None:
    admin = await make_account(committed_database, backend.settings, role=Role.admin)
    async with running_receiver() as receiver:
        receiver.released.clear()  # the first attempt hangs until the process is gone
        first = ServiceProcess(backend, SALES_APP, environment=DISPATCHING)
        # A loaded machine may take a while to start a service; readiness is not the point.
        await first.start(ready_within=60)
        try:
            async with httpx.AsyncClient(
                base_url=first.url, headers=bearer(admin, backend.settings)
            ) as client:
                created = await client.post(
                    "/api/v1/webhooks",
                    json={"url": receiver.url(), "event_types": ["sale.recorded"]},
                )
                assert created.status_code == 201, created.text
                async for products in client_for(
                    "products", backend.settings, committed_database, as_=Role.admin
                ):
                    catalog = Catalog(products)
                    product = await catalog.product(category_id=await catalog.category())
                sold = await client.post(
                    "/api/v1/sales", json={"product_id": product, "quantity": 1}
                )
                assert sold.status_code == 201, sold.text
            (hung,) = await receiver.wait_for(1)
        finally:
            await first.kill()
        delivery = await _delivery(committed_database)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING.value, 1)

        receiver.released.set()
        second = ServiceProcess(backend, SALES_APP, environment=DISPATCHING)
        await second.start(ready_within=60)
        try:
            _, delivered = await receiver.wait_for(2)
            for _ in range(300):  # the outcome is written just after the answer
                if (await _delivery(committed_database)).status == "succeeded":
                    break
                await asyncio.sleep(0.1)
        finally:
            await second.kill()
    assert delivered.headers["webhook-id"] == hung.headers["webhook-id"]
    assert delivered.body == hung.body
    assert delivered.event["type"] == "sale.recorded"
    assert (await _delivery(committed_database)).attempts == 2
