"""Webhooks end to end: the admin API, a real receiver on 127.0.0.1, the dispatcher."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from httpx import AsyncClient
from standardwebhooks import Webhook

from common.config import Settings
from common.db import Database
from common.events.dispatcher import Dispatcher
from common.models.identity import Role
from tests.fixtures.clients import client_for
from tests.fixtures.factories import Catalog
from tests.fixtures.receiver import Received, Receiver, running_receiver

WEBHOOKS = "/api/v1/webhooks"


async def _subscribe(client: AsyncClient, url: str, *types: str) -> dict[str, object]:
    response = await client.post(WEBHOOKS, json={"url": url, "event_types": list(types or "*")})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def _sell(client: AsyncClient, product_id: int, quantity: int = 1) -> int:
    response = await client.post(
        "/api/v1/sales", json={"product_id": product_id, "quantity": quantity}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _dispatch_until(dispatcher: Dispatcher, receiver: Receiver, count: int) -> list[Received]:
    """Passes until the receiver got `count` requests (bounded, not timed)."""
    async with asyncio.timeout(60):
        while len(receiver.received) < count:
            await dispatcher.run_once()
            await asyncio.sleep(0.01)
    return receiver.received


def _verified(received: Received, secret: str) -> dict[str, object]:
    payload: dict[str, object] = Webhook(secret).verify(received.body, received.headers)
    return payload


@pytest.fixture
async def committed_catalog(
    settings: Settings, committed_database: Database
) -> AsyncIterator[Catalog]:
    async for client in client_for("products", settings, committed_database, as_=Role.admin):
        yield Catalog(client)


@pytest.fixture
async def admin_client(
    settings: Settings, committed_database: Database
) -> AsyncIterator[AsyncClient]:
    async for client in client_for("sales", settings, committed_database, as_=Role.admin):
        yield client


async def _product(catalog: Catalog, stock: int = 100) -> int:
    return await catalog.product(category_id=await catalog.category(), stock=stock)


async def test_a_receiver_gets_committed_sales_signed_with_the_secret_shown_once(
    admin_client: AsyncClient,
    committed_catalog: Catalog,
    committed_database: Database,
    settings: Settings,
    receiver: Receiver,
) -> None:
    created = await _subscribe(admin_client, receiver.url(), "sale.recorded")
    secret = str(created["secret"])
    assert secret.startswith("whsec_")
    shown = (await admin_client.get(f"{WEBHOOKS}/{created['id']}")).json()
    assert "secret" not in shown
    assert shown["event_types"] == ["sale.recorded"]
    product = await _product(committed_catalog)
    sale_ids = [await _sell(admin_client, product) for _ in range(3)]
    refused = await admin_client.post(
        "/api/v1/sales", json={"product_id": product, "quantity": 10**6}
    )
    assert refused.status_code == 409

    received = await _dispatch_until(Dispatcher(committed_database, settings), receiver, 3)
    await Dispatcher(committed_database, settings).run_once()
    assert len(receiver.received) == 3  # nothing for the refused sale, nothing twice
    payloads = [_verified(request, secret) for request in received]
    assert [payload["type"] for payload in payloads] == ["sale.recorded"] * 3
    # Sent side by side: webhooks promise each event, not their order.
    assert sorted(payload["data"]["id"] for payload in payloads) == sale_ids  # type: ignore[index]
    assert [request.headers["webhook-id"] for request in received] == [
        payload["id"] for payload in payloads
    ]
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 44).verify(received[0].body, received[0].headers)

    deliveries = (await admin_client.get(f"{WEBHOOKS}/{created['id']}/deliveries")).json()
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in deliveries["items"]] == [
        ("succeeded", 1, 204)
    ] * 3
    assert all(d["next_attempt_at"] is None for d in deliveries["items"])


async def test_a_receiver_failing_three_times_gets_the_event_with_the_same_webhook_id(
    admin_client: AsyncClient,
    committed_catalog: Catalog,
    committed_database: Database,
    settings: Settings,
) -> None:
    fast = settings.model_copy(update={"webhook_retry_base_seconds": 0.01})
    async with running_receiver(statuses=[500, 503, 500]) as failing:
        created = await _subscribe(admin_client, failing.url(), "sale.recorded")
        await _sell(admin_client, await _product(committed_catalog))
        received = await _dispatch_until(Dispatcher(committed_database, fast), failing, 4)
    assert len({request.headers["webhook-id"] for request in received}) == 1
    assert len({request.body for request in received}) == 1
    for request in received:
        _verified(request, str(created["secret"]))
    (delivery,) = (await admin_client.get(f"{WEBHOOKS}/{created['id']}/deliveries")).json()["items"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "succeeded",
        4,
        204,
    )


async def test_a_failed_delivery_waits_with_backoff_and_can_be_retried_at_once(
    admin_client: AsyncClient,
    committed_catalog: Catalog,
    committed_database: Database,
    settings: Settings,
) -> None:
    async with running_receiver(statuses=[500]) as failing:
        created = await _subscribe(admin_client, failing.url(), "sale.recorded")
        await _sell(admin_client, await _product(committed_catalog))
        dispatcher = Dispatcher(committed_database, settings)
        await _dispatch_until(dispatcher, failing, 1)
        await dispatcher.run_once()
        assert len(failing.received) == 1  # the next attempt is seconds away
        (delivery,) = (await admin_client.get(f"{WEBHOOKS}/{created['id']}/deliveries")).json()[
            "items"
        ]
        assert (delivery["status"], delivery["last_status_code"]) == ("pending", 500)
        assert datetime.fromisoformat(delivery["next_attempt_at"]) > datetime.now(UTC)
        retried = await admin_client.post(f"/api/v1/deliveries/{delivery['id']}/retry")
        assert retried.status_code == 200, retried.text
        received = await _dispatch_until(dispatcher, failing, 2)
    assert received[0].headers["webhook-id"] == received[1].headers["webhook-id"]


async def test_paused_subscriptions_queue_and_resume_sends_and_test_pings_only_that_one(
    admin_client: AsyncClient,
    committed_catalog: Catalog,
    committed_database: Database,
    settings: Settings,
    receiver: Receiver,
) -> None:
    paused = await _subscribe(admin_client, receiver.url("/paused"), "sale.recorded")
    other = await _subscribe(admin_client, receiver.url("/other"), "stock.low")
    changed = await admin_client.patch(f"{WEBHOOKS}/{paused['id']}", json={"status": "paused"})
    assert changed.json()["status"] == "paused"
    await _sell(admin_client, await _product(committed_catalog))
    dispatcher = Dispatcher(committed_database, settings)
    await dispatcher.run_once()
    assert receiver.received == []
    await admin_client.patch(f"{WEBHOOKS}/{paused['id']}", json={"status": "active"})
    (sent,) = await _dispatch_until(dispatcher, receiver, 1)
    assert (sent.path, sent.event["type"]) == ("/paused", "sale.recorded")

    ping = await admin_client.post(f"{WEBHOOKS}/{other['id']}/test")
    assert ping.status_code == 202
    assert ping.json()["event_type"] == "webhook.test"
    _, pinged = await _dispatch_until(dispatcher, receiver, 2)
    assert (pinged.path, pinged.event["type"]) == ("/other", "webhook.test")
    assert _verified(pinged, str(other["secret"]))["data"] == {
        "webhook_id": other["id"],
        "url": receiver.url("/other"),
    }
    assert (await admin_client.delete(f"{WEBHOOKS}/{other['id']}")).status_code == 204
    gone = await admin_client.get(f"{WEBHOOKS}/{other['id']}")
    assert (gone.status_code, gone.json()["code"]) == (404, "webhook_not_found")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://user:pass@example.com/hooks",
        "ftp://example.com/hooks",
    ],
)
async def test_private_loopback_and_link_local_targets_are_refused_by_default(
    settings: Settings, committed_database: Database, url: str
) -> None:
    strict = settings.model_copy(update={"webhook_allow_private": False})
    async for client in client_for("sales", strict, committed_database, as_=Role.admin):
        response = await client.post(WEBHOOKS, json={"url": url, "event_types": ["*"]})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (await client.get(WEBHOOKS)).json()["total"] == 0


async def test_a_name_that_resolves_to_loopback_is_refused_at_delivery(
    admin_client: AsyncClient,
    committed_catalog: Catalog,
    committed_database: Database,
    settings: Settings,
    receiver: Receiver,
) -> None:
    # The machine's own name: saved (a name is checked when it is resolved), then refused
    # when the dispatcher resolves it to a private or loopback address.
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, receiver.port)}
    except OSError:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if any(ipaddress.ip_address(str(address)).is_global for address in addresses):
        pytest.skip(f"this machine's name {name!r} resolves to a public address")
    created = await _subscribe(
        admin_client, f"http://{name}:{receiver.port}/hooks", "sale.recorded"
    )
    await _sell(admin_client, await _product(committed_catalog))
    strict = settings.model_copy(update={"webhook_allow_private": False})
    await Dispatcher(committed_database, strict).run_once()
    assert receiver.received == []
    (delivery,) = (await admin_client.get(f"{WEBHOOKS}/{created['id']}/deliveries")).json()["items"]
    assert delivery["status"] == "pending"
    assert "private" in delivery["last_error"]


@pytest.mark.mysql_only
async def test_two_dispatchers_at_once_deliver_each_event_once_per_subscription(
    admin_client: AsyncClient,
    committed_catalog: Catalog,
    committed_database: Database,
    settings: Settings,
    receiver: Receiver,
) -> None:
    for path in ("/a", "/b"):
        await _subscribe(admin_client, receiver.url(path), "sale.recorded")
    product = await _product(committed_catalog, stock=1000)
    sales = 40
    for _ in range(sales):
        await _sell(admin_client, product)
    small = settings.model_copy(update={"event_dispatch_batch_size": 5})
    second = Database.from_settings(small)
    try:
        replicas = [Dispatcher(committed_database, small), Dispatcher(second, small)]

        async def work(dispatcher: Dispatcher) -> None:
            while len(receiver.received) < 2 * sales:
                await dispatcher.run_once()
                await asyncio.sleep(0)

        async with asyncio.timeout(120):
            await asyncio.gather(*(work(replica) for replica in replicas))
        for replica in replicas:
            await replica.run_once()
    finally:
        await second.dispose()
    counts = Counter((request.path, request.headers["webhook-id"]) for request in receiver.received)
    assert len(counts) == 2 * sales
    assert set(counts.values()) == {1}


async def test_a_subscription_failing_for_the_give_up_time_is_disabled_and_an_event_says_so(
    admin_client: AsyncClient,
    committed_catalog: Catalog,
    committed_database: Database,
    settings: Settings,
) -> None:
    quick = settings.model_copy(
        update={"webhook_retry_base_seconds": 0.01, "webhook_give_up_seconds": 1}
    )
    async with running_receiver(default=500) as failing:
        created = await _subscribe(admin_client, failing.url(), "sale.recorded")
        await _sell(admin_client, await _product(committed_catalog))
        dispatcher = Dispatcher(committed_database, quick)
        await _dispatch_until(dispatcher, failing, 1)
        await asyncio.sleep(1.1)  # the give-up time passes on the real clock
        await _dispatch_until(dispatcher, failing, 2)
        await dispatcher.run_once()
        assert len(failing.received) == 2  # disabled: nothing more is sent
    shown = (await admin_client.get(f"{WEBHOOKS}/{created['id']}")).json()
    assert shown["status"] == "disabled"
    (disabled,) = [
        event
        for event in (await admin_client.get("/api/v1/events", params={"limit": 200})).json()[
            "items"
        ]
        if event["type"] == "webhook.disabled"
    ]
    assert disabled["data"]["id"] == created["id"]
    assert "secret" not in disabled["data"]
    (delivery,) = (await admin_client.get(f"{WEBHOOKS}/{created['id']}/deliveries")).json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("failed", 2)


async def test_both_services_show_the_dispatchers_lag_and_deliveries_in_metrics(
    admin_client: AsyncClient,
    committed_catalog: Catalog,
    committed_database: Database,
    settings: Settings,
    receiver: Receiver,
) -> None:
    await _subscribe(admin_client, receiver.url(), "sale.recorded")
    await _sell(admin_client, await _product(committed_catalog))
    await _dispatch_until(Dispatcher(committed_database, settings), receiver, 1)
    for client in (admin_client, committed_catalog.client):
        metrics = (await client.get("/metrics")).text
        assert "events_dispatch_lag_seconds " in metrics
        assert 'webhook_deliveries_total{outcome="succeeded"}' in metrics
