"""Stock adjustments through the API: guarded, compare-and-set, explained by the ledger."""

from __future__ import annotations

from httpx import AsyncClient

from common.models.catalog import MAX_STOCK
from tests.fixtures.factories import API, adjust, create_product


async def stock(client: AsyncClient, product_id: int) -> tuple[int, int]:
    """(on hand, number of movements)."""
    inventory = (await client.get(f"{API}/products/{product_id}/inventory")).json()
    ledger = (await client.get(f"{API}/products/{product_id}/inventory/movements")).json()
    return inventory["on_hand"], len(ledger["items"])


async def test_delta_adjustment_moves_stock_and_records_the_movement(
    admin_products_client: AsyncClient,
) -> None:
    product = await create_product(admin_products_client, initial_stock=5)
    response = await adjust(
        admin_products_client,
        product["id"],
        delta=12,
        kind="restock",
        reference="PO-9",
        note="Dock 2",
    )
    assert response.status_code == 201
    movement = response.json()
    assert {k: movement[k] for k in ("kind", "delta", "quantity_after", "reference", "note")} == {
        "kind": "restock",
        "delta": 12,
        "quantity_after": 17,
        "reference": "PO-9",
        "note": "Dock 2",
    }
    assert await stock(admin_products_client, product["id"]) == (17, 2)


async def test_removing_more_than_on_hand_is_409_with_the_quantity(
    admin_products_client: AsyncClient,
) -> None:
    product = await create_product(admin_products_client, initial_stock=3)
    response = await adjust(admin_products_client, product["id"], delta=-4, kind="damage")
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["available"], body["on_hand"], body["requested"]) == (
        "insufficient_stock",
        3,
        3,
        4,
    )
    assert await stock(admin_products_client, product["id"]) == (3, 1)


async def test_set_to_records_the_difference(admin_products_client: AsyncClient) -> None:
    product = await create_product(admin_products_client, initial_stock=10)
    response = await adjust(admin_products_client, product["id"], set_to=7, note="Count")
    assert response.status_code == 201
    movement = response.json()
    assert (movement["kind"], movement["delta"], movement["quantity_after"]) == (
        "adjustment",
        -3,
        7,
    )


async def test_stale_expected_on_hand_is_409_and_changes_nothing(
    admin_products_client: AsyncClient,
) -> None:
    product = await create_product(admin_products_client, initial_stock=10)
    for body in ({"set_to": 4}, {"delta": -1, "kind": "correction"}):
        response = await adjust(admin_products_client, product["id"], expected_on_hand=9, **body)
        assert response.status_code == 409
        assert (response.json()["code"], response.json()["on_hand"]) == ("stale_stock", 10)
    assert await stock(admin_products_client, product["id"]) == (10, 1)


async def test_current_expected_on_hand_applies(admin_products_client: AsyncClient) -> None:
    product = await create_product(admin_products_client, initial_stock=10)
    response = await adjust(admin_products_client, product["id"], set_to=4, expected_on_hand=10)
    assert response.json()["quantity_after"] == 4


async def test_setting_the_current_level_is_422_no_stock_change(
    admin_products_client: AsyncClient,
) -> None:
    product = await create_product(admin_products_client, initial_stock=6)
    response = await adjust(admin_products_client, product["id"], set_to=6)
    assert response.status_code == 422
    assert response.json()["code"] == "no_stock_change"
    assert await stock(admin_products_client, product["id"]) == (6, 1)


async def test_a_level_beyond_the_maximum_is_409(admin_products_client: AsyncClient) -> None:
    product = await create_product(admin_products_client, initial_stock=MAX_STOCK)
    response = await adjust(admin_products_client, product["id"], delta=1, kind="restock")
    assert response.status_code == 409
    assert response.json()["code"] == "stock_limit_exceeded"
    assert await stock(admin_products_client, product["id"]) == (MAX_STOCK, 1)


async def test_inventory_shows_the_last_movement(admin_products_client: AsyncClient) -> None:
    product = await create_product(admin_products_client, initial_stock=4, low_stock_threshold=5)
    await adjust(admin_products_client, product["id"], delta=-4, kind="damage", note="Flood")
    inventory = (
        await admin_products_client.get(f"{API}/products/{product['id']}/inventory")
    ).json()
    assert {k: inventory[k] for k in ("on_hand", "reserved", "available", "stock_status")} == {
        "on_hand": 0,
        "reserved": 0,
        "available": 0,
        "stock_status": "out_of_stock",
    }
    assert (inventory["last_movement"]["kind"], inventory["last_movement"]["note"]) == (
        "damage",
        "Flood",
    )
