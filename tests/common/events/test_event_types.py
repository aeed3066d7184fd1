"""Every event type, from the change that causes it, in the transaction of that change."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import update

from common.config import Settings
from common.db import Database, utcnow
from common.models.inventory import StockReservation, StockReservationItem
from common.ops.sweeper import sweep_batch
from tests.fixtures.factories import (
    API,
    Catalog,
    bearer,
    create_product,
    make_account,
    order_body,
)

Event = dict[str, Any]


async def events(client: AsyncClient, *types: str) -> list[Event]:
    response = await client.get(f"{API}/events", params={"limit": 200})
    assert response.status_code == 200, response.text
    items: list[Event] = response.json()["items"]
    return [event for event in items if not types or event["type"] in types]


async def stock_events(client: AsyncClient, product_id: int) -> list[tuple[str, list[int]]]:
    return [
        (event["type"], event["changes"]["available"])
        for event in await events(client, "stock.low", "stock.out", "stock.back")
        if event["data"]["product_id"] == product_id
    ]


async def _product(catalog: Catalog, *, stock: int, threshold: int, price: str = "4.00") -> int:
    category = await catalog.category()
    created = await create_product(
        catalog.client,
        category_id=category,
        initial_stock=stock,
        low_stock_threshold=threshold,
        price=price,
    )
    return int(created["id"])


async def _sell(client: AsyncClient, product_id: int, quantity: int) -> None:
    response = await client.post(
        f"{API}/sales", json={"product_id": product_id, "quantity": quantity}
    )
    assert response.status_code == 201, response.text


async def test_product_created_updated_and_archived(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await catalog.product(category_id=await catalog.category(), price="5.00")
    renamed = await catalog.client.patch(
        f"{API}/products/{product}", json={"name": "Renamed", "price": "6.00"}
    )
    assert renamed.status_code == 200
    await catalog.archive(product)
    await catalog.archive(product)  # archiving again changes nothing, and says nothing
    created, updated, archived = await events(
        admin_sales_client, "product.created", "product.updated", "product.archived"
    )
    assert (created["type"], created["data"]["id"], created["data"]["price"]) == (
        "product.created",
        product,
        "5.00",
    )
    assert updated["type"] == "product.updated"
    assert updated["changes"] == {
        "name": [created["data"]["name"], "Renamed"],
        "price": ["5.00", "6.00"],
    }
    assert (archived["type"], archived["data"]["status"]) == ("product.archived", "archived")


async def test_stock_alerts_fire_exactly_when_available_stock_crosses_threshold_and_zero(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await _product(catalog, stock=10, threshold=5)
    # 10 -> 6 says nothing, 6 -> 5 is low, 5 -> 1 nothing.
    await _sell(admin_sales_client, product, 4)
    await _sell(admin_sales_client, product, 1)
    await _sell(admin_sales_client, product, 4)
    await _sell(admin_sales_client, product, 1)
    restocked = await catalog.client.post(
        f"{API}/products/{product}/inventory/adjustments", json={"delta": 3, "kind": "restock"}
    )
    assert restocked.status_code == 201, restocked.text
    await _sell(admin_sales_client, product, 3)
    assert await stock_events(admin_sales_client, product) == [
        ("stock.low", [6, 5]),
        ("stock.out", [1, 0]),
        ("stock.back", [0, 3]),
        ("stock.out", [3, 0]),
    ]
    (adjusted,) = await events(admin_sales_client, "stock.adjusted")
    assert (adjusted["data"]["product_id"], adjusted["data"]["delta"]) == (product, 3)
    assert adjusted["data"]["kind"] == "restock"


async def test_a_fall_past_the_threshold_to_zero_is_low_and_out(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await _product(catalog, stock=8, threshold=5)
    await _sell(admin_sales_client, product, 8)
    assert await stock_events(admin_sales_client, product) == [
        ("stock.low", [8, 0]),
        ("stock.out", [8, 0]),
    ]


async def test_orders_placed_paid_refunded_with_their_sales_and_wallet_moves(
    admin_sales_client: AsyncClient,
    catalog: Catalog,
    settings: Settings,
    isolated_database: Database,
) -> None:
    product = await _product(catalog, stock=2, threshold=1)
    customer = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    headers = bearer(customer, settings)
    client = admin_sales_client
    order = (await client.post(f"{API}/orders", json=order_body(product), headers=headers)).json()
    paid = await client.post(f"{API}/orders/{order['id']}/pay", headers=headers)
    assert paid.status_code == 200, paid.text
    shipped = await client.post(f"{API}/orders/{order['id']}/status", json={"status": "shipped"})
    assert shipped.status_code == 200, shipped.text
    order_types = [
        (event["type"], event["data"]["id"], event.get("changes"))
        for event in await events(client)
        if event["type"].startswith("order.")
    ]
    assert order_types == [
        ("order.placed", order["id"], {"status": [None, "pending"]}),
        ("order.paid", order["id"], {"status": ["pending", "paid"]}),
        ("order.status_changed", order["id"], {"status": ["pending", "paid"]}),
        ("order.status_changed", order["id"], {"status": ["paid", "shipped"]}),
    ]
    (debited,) = [
        event
        for event in await events(client, "wallet.debited")
        if event["data"]["user_id"] == customer.id
    ]
    assert (debited["data"]["amount"], debited["data"]["balance_after"]) == ("-4.00", "6.00")
    (sold,) = await events(client, "sale.recorded")
    assert (sold["data"]["order_id"], sold["data"]["quantity"]) == (order["id"], 1)
    # The reservation took the product from 2 to 1 available (low); paying changed nothing.
    assert await stock_events(client, product) == [("stock.low", [2, 1])]


async def test_a_cancelled_paid_order_is_refunded_and_a_pending_one_cancelled(
    admin_sales_client: AsyncClient,
    catalog: Catalog,
    settings: Settings,
    isolated_database: Database,
) -> None:
    product = await _product(catalog, stock=1, threshold=0)
    customer = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    headers = bearer(customer, settings)
    client = admin_sales_client
    pending = (await client.post(f"{API}/orders", json=order_body(product), headers=headers)).json()
    cancelled = await client.post(
        f"{API}/orders/{pending['id']}/cancel", json={"reason": "changed my mind"}, headers=headers
    )
    assert cancelled.status_code == 200, cancelled.text
    paid_order = (
        await client.post(f"{API}/orders", json=order_body(product), headers=headers)
    ).json()
    await client.post(f"{API}/orders/{paid_order['id']}/pay", headers=headers)
    refunded = await client.post(
        f"{API}/orders/{paid_order['id']}/cancel", json={"reason": "broken"}, headers=headers
    )
    assert refunded.status_code == 200, refunded.text
    assert [e["data"]["id"] for e in await events(client, "order.cancelled")] == [pending["id"]]
    assert [e["data"]["id"] for e in await events(client, "order.refunded")] == [paid_order["id"]]
    (sale_refund,) = await events(client, "sale.refunded")
    assert (sale_refund["data"]["order_id"], sale_refund["data"]["quantity"]) == (
        paid_order["id"],
        -1,
    )
    credited = [
        e["data"]["amount"]
        for e in await events(client, "wallet.credited")
        if e["data"]["user_id"] == customer.id
    ]
    assert credited == ["10.00", "4.00"]  # the opening balance, then the refund
    # Placing took the only unit (out), cancelling gave it back, and so did the refund.
    assert await stock_events(client, product) == [
        ("stock.low", [1, 0]),
        ("stock.out", [1, 0]),
        ("stock.back", [0, 1]),
        ("stock.low", [1, 0]),
        ("stock.out", [1, 0]),
        ("stock.back", [0, 1]),
    ]


async def test_a_reservation_that_times_out_gives_its_stock_back_when_swept(
    admin_sales_client: AsyncClient,
    catalog: Catalog,
    settings: Settings,
    isolated_database: Database,
) -> None:
    product = await _product(catalog, stock=1, threshold=0)
    reserved = await catalog.client.post(
        f"{API}/inventory/reservations",
        json={"items": [{"product_id": product, "quantity": 1}], "ttl_seconds": 60},
    )
    assert reserved.status_code == 201, reserved.text
    reservation_id = reserved.json()["id"]
    async with isolated_database.session_factory() as session:
        # Its time ran out (the expiry is data: the row says when, the clock is real).
        past = utcnow() - timedelta(seconds=1)
        for model, key in (
            (StockReservation, StockReservation.id),
            (StockReservationItem, StockReservationItem.reservation_id),
        ):
            await session.execute(
                update(model).where(key == reservation_id).values(expires_at=past)
            )
        await sweep_batch(session, batch_size=100, login_window=timedelta(minutes=15))
        await session.commit()
    back = [e for e in await events(admin_sales_client, "stock.back")]
    assert [(e["data"]["product_id"], e["changes"]["available"]) for e in back] == [
        (product, [0, 1])
    ]
    assert back[0]["changes"]["cause"] == f"reservation:{reservation_id} expired"


async def test_reviews_submitted_and_moderated(
    admin_sales_client: AsyncClient,
    catalog: Catalog,
    settings: Settings,
    isolated_database: Database,
) -> None:
    product = await catalog.product(category_id=await catalog.category())
    customer = bearer(await make_account(isolated_database, settings), settings)
    posted = await catalog.client.post(
        f"{API}/products/{product}/reviews", json={"rating": 4, "body": "Fine."}, headers=customer
    )
    assert posted.status_code == 201, posted.text
    moderated = await catalog.client.post(
        f"{API}/reviews/{posted.json()['id']}/moderation", json={"decision": "reject"}
    )
    assert moderated.status_code == 200, moderated.text
    submitted, decided = await events(admin_sales_client, "review.submitted", "review.moderated")
    assert (submitted["data"]["id"], submitted["data"]["status"]) == (
        posted.json()["id"],
        "pending",
    )
    assert decided["changes"] == {"status": ["pending", "rejected"]}


@pytest.mark.parametrize("dry_run", [False, True])
async def test_an_import_says_when_it_finished_and_a_dry_run_says_nothing(
    admin_sales_client: AsyncClient, catalog: Catalog, dry_run: bool
) -> None:
    category = await catalog.client.get(f"{API}/categories/{await catalog.category()}")
    content = (
        "sku,name,category,price,stock\n"
        f"IMP-1,One,{category.json()['name']},2.50,0\n"
        f"IMP-2,Two,{category.json()['name']},3.50,7\n"
    )
    response = await catalog.client.post(
        f"{API}/products/import",
        files={"file": ("catalog.csv", content.encode(), "text/csv")},
        params={"dry_run": str(dry_run).lower()},
    )
    assert response.status_code == 200, response.text
    finished = await events(admin_sales_client, "import.finished")
    if dry_run:
        assert finished == []
        assert await events(admin_sales_client, "stock.back") == []
        return
    (event,) = finished
    assert (event["data"]["created"], event["data"]["rows"], event["data"]["failed"]) == (2, 2, 0)
    assert event["data"]["format"] == "csv"


async def test_store_credit_is_wallet_credited(
    admin_sales_client: AsyncClient, settings: Settings, isolated_database: Database
) -> None:
    customer = await make_account(isolated_database, settings)
    response = await admin_sales_client.post(
        f"{API}/customers/{customer.id}/wallet/top-ups",
        json={"amount": "7.50", "note": "goodwill"},
    )
    assert response.status_code == 201, response.text
    (credited,) = [
        e
        for e in await events(admin_sales_client, "wallet.credited")
        if e["data"]["user_id"] == customer.id
    ]
    assert (credited["data"]["amount"], credited["data"]["balance_after"]) == ("7.50", "7.50")
