"""Ledger pages, level series, levels now and as of a moment, low stock, valuation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from common.inventory.ledger import record_movement
from common.models import MovementKind
from tests.fixtures.factories import API, adjust, create_category, create_product


async def test_movements_are_newest_first_and_filter_by_kind(
    admin_products_client: AsyncClient,
) -> None:
    product = await create_product(admin_products_client, initial_stock=5)
    await adjust(admin_products_client, product["id"], delta=3, kind="restock")
    await adjust(admin_products_client, product["id"], delta=-2, kind="damage")
    url = f"{API}/products/{product['id']}/inventory/movements"
    everything = (await admin_products_client.get(url)).json()["items"]
    assert [m["quantity_after"] for m in everything] == [6, 8, 5]
    damage = (await admin_products_client.get(url, params={"kind": "damage"})).json()["items"]
    assert [m["delta"] for m in damage] == [-2]


async def test_movement_pages_stay_correct_while_rows_are_appended(
    admin_products_client: AsyncClient,
) -> None:
    product = await create_product(admin_products_client, initial_stock=1)
    for _ in range(4):
        await adjust(admin_products_client, product["id"], delta=1, kind="restock")
    url = f"{API}/products/{product['id']}/inventory/movements"
    first = (await admin_products_client.get(url, params={"limit": 2})).json()
    assert [m["quantity_after"] for m in first["items"]] == [5, 4]
    await adjust(admin_products_client, product["id"], delta=10, kind="restock")
    second = (
        await admin_products_client.get(url, params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    third = (
        await admin_products_client.get(url, params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    assert [m["quantity_after"] for m in second["items"]] == [3, 2]
    assert ([m["quantity_after"] for m in third["items"]], third["next_cursor"]) == ([1], None)


async def history(session: AsyncSession, client: AsyncClient, sku: str) -> int:
    """A product whose ledger is 10 on Mar 2, 4 on Mar 5 and 9 on Mar 9, 2026 (UTC)."""
    product = await create_product(client, sku=sku, low_stock_threshold=5)
    for day, kind, delta in [
        (2, MovementKind.RESTOCK, 10),
        (5, MovementKind.SALE, -6),
        (9, MovementKind.RESTOCK, 5),
    ]:
        await record_movement(
            session,
            product_id=product["id"],
            kind=kind,
            delta=delta,
            at=datetime(2026, 3, day, 12, tzinfo=UTC),
        )
    await session.commit()
    return int(product["id"])


async def test_movements_filter_by_time_range(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    product_id = await history(session, admin_products_client, "RANGE-1")
    response = await admin_products_client.get(
        f"{API}/products/{product_id}/inventory/movements",
        params={"start": "2026-03-05T12:00:00Z", "end": "2026-03-09T11:59:59Z"},
    )
    assert [m["quantity_after"] for m in response.json()["items"]] == [4]


async def test_daily_levels_carry_forward(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    product_id = await history(session, admin_products_client, "DAILY-1")
    response = await admin_products_client.get(
        f"{API}/products/{product_id}/inventory/levels",
        params={"interval": "day", "start": "2026-03-01T00:00:00Z", "end": "2026-03-10T00:00Z"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["interval"], body["timezone"]) == ("day", "UTC")
    assert [(p["period_start"][-2:], p["level"]) for p in body["points"]] == [
        ("01", 0),
        ("02", 10),
        ("03", 10),
        ("04", 10),
        ("05", 4),
        ("06", 4),
        ("07", 4),
        ("08", 4),
        ("09", 9),
        ("10", 9),
    ]


async def test_inventory_as_of_reads_levels_from_the_ledger(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    product_id = await history(session, admin_products_client, "ASOF-1")
    response = await admin_products_client.get(
        f"{API}/inventory", params={"as_of": "2026-03-06T00:00:00+01:00"}
    )
    (item,) = [i for i in response.json()["items"] if i["product_id"] == product_id]
    assert {k: item[k] for k in ("on_hand", "reserved", "available", "stock_status")} == {
        "on_hand": 4,
        "reserved": None,
        "available": 4,
        "stock_status": "low_stock",
    }
    assert item["as_of"] == "2026-03-05T23:00:00Z"
    now = (await admin_products_client.get(f"{API}/inventory")).json()["items"]
    assert [(i["on_hand"], i["as_of"]) for i in now if i["product_id"] == product_id] == [(9, None)]


async def test_inventory_as_of_filters_on_the_past_status(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    product_id = await history(session, admin_products_client, "ASOF-2")
    response = await admin_products_client.get(
        f"{API}/inventory", params={"as_of": "2026-03-01T00:00:00Z", "stock_status": "in_stock"}
    )
    assert product_id not in [i["product_id"] for i in response.json()["items"]]
    response = await admin_products_client.get(
        f"{API}/inventory",
        params={"as_of": "2026-03-03T00:00:00Z", "stock_status": "in_stock"},
    )
    assert [i["product_id"] for i in response.json()["items"]] == [product_id]


async def test_inventory_filters_by_category_and_stock_status(
    admin_products_client: AsyncClient,
) -> None:
    category = await create_category(admin_products_client, "Filtered")
    low = await create_product(admin_products_client, category_id=category["id"], initial_stock=2)
    await create_product(admin_products_client, category_id=category["id"], initial_stock=50)
    await create_product(admin_products_client, initial_stock=1)
    response = await admin_products_client.get(
        f"{API}/inventory", params={"category_id": category["id"], "stock_status": "low_stock"}
    )
    assert [(i["product_id"], i["on_hand"]) for i in response.json()["items"]] == [(low["id"], 2)]


async def low_stock(client: AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/inventory/low-stock", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_low_stock_lists_the_most_urgent_first_with_shortfall(
    admin_products_client: AsyncClient,
) -> None:
    category = await create_category(admin_products_client)
    specs = {"HALF": (5, 10), "EMPTY": (0, 3), "NEARLY": (9, 10), "FINE": (50, 10)}
    for sku, (stock, threshold) in specs.items():
        await create_product(
            admin_products_client,
            sku=sku,
            category_id=category["id"],
            initial_stock=stock,
            low_stock_threshold=threshold,
        )
    archived = await create_product(admin_products_client, category_id=category["id"])
    await admin_products_client.delete(f"{API}/products/{archived['id']}")
    items = await low_stock(admin_products_client, category_id=category["id"])
    assert [(i["sku"], i["shortfall"], i["stock_status"]) for i in items] == [
        ("EMPTY", 3, "out_of_stock"),
        ("HALF", 5, "low_stock"),
        ("NEARLY", 1, "low_stock"),
    ]
    assert {i["days_of_cover"] for i in items} == {None}


async def test_summary_values_stock_at_cost_and_price_by_category(
    admin_products_client: AsyncClient,
) -> None:
    tools = await create_category(admin_products_client, "Tools")
    toys = await create_category(admin_products_client, "Toys")
    await create_product(
        admin_products_client,
        category_id=tools["id"],
        price="10.50",
        cost_price="4.25",
        initial_stock=20,
    )
    await create_product(
        admin_products_client, category_id=tools["id"], price="3.00", initial_stock=2
    )
    await create_product(admin_products_client, category_id=toys["id"], price="1.99")
    summary = (await admin_products_client.get(f"{API}/inventory/summary")).json()
    by_category = {c["category_name"]: c for c in summary["by_category"]}
    assert {k: by_category["Tools"][k] for k in ("total_units", "value_at_cost")} == {
        "total_units": 22,
        "value_at_cost": "85.00",
    }
    assert by_category["Tools"]["value_at_price"] == "216.00"
    assert (summary["product_count"], summary["total_units"], summary["value_at_price"]) == (
        3,
        22,
        "216.00",
    )
    assert (
        summary["in_stock_count"],
        summary["low_stock_count"],
        summary["out_of_stock_count"],
    ) == (1, 1, 1)
