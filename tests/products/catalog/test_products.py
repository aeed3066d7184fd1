"""Products: creation with opening stock, listing filters and sorts, updates, archiving."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from httpx import AsyncClient

from common.config import Settings
from common.db import Database
from products_microservice.main import build_app
from tests.fixtures.clients import serve
from tests.fixtures.factories import API, bearer, create_category, create_product, make_account


async def test_create_product_opens_its_ledger_with_the_initial_stock(
    admin_products_client: AsyncClient,
) -> None:
    category = await create_category(admin_products_client, "Mugs")
    response = await admin_products_client.post(
        f"{API}/products",
        json={
            "sku": "mug-001",
            "name": "Blue mug",
            "category_id": category["id"],
            "price": "12.50",
            "cost_price": "4",
            "initial_stock": 30,
        },
    )
    assert response.status_code == 201
    product = response.json()
    assert response.headers["location"].endswith(f"{API}/products/{product['id']}")
    assert {k: product[k] for k in ("sku", "price", "cost_price", "status")} == {
        "sku": "MUG-001",
        "price": "12.50",
        "cost_price": "4.00",
        "status": "active",
    }
    assert (product["stock_on_hand"], product["available"], product["stock_status"]) == (
        30,
        30,
        "in_stock",
    )
    assert product["category"] == {"id": category["id"], "name": "Mugs", "slug": "mugs"}
    ledger = await admin_products_client.get(f"{API}/products/{product['id']}/inventory/movements")
    assert [(m["kind"], m["delta"], m["quantity_after"]) for m in ledger.json()["items"]] == [
        ("initial", 30, 30)
    ]


async def test_product_without_initial_stock_has_an_empty_ledger(
    admin_products_client: AsyncClient,
) -> None:
    product = await create_product(admin_products_client)
    ledger = await admin_products_client.get(f"{API}/products/{product['id']}/inventory/movements")
    assert ledger.json() == {"items": [], "next_cursor": None}
    assert (product["stock_on_hand"], product["stock_status"]) == (0, "out_of_stock")


async def test_duplicate_sku_in_any_case_is_409(admin_products_client: AsyncClient) -> None:
    product = await create_product(admin_products_client, sku="TEE-1")
    response = await admin_products_client.post(
        f"{API}/products",
        json={"sku": "tee-1", "name": "Other", "category_id": product["category_id"], "price": 1},
    )
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["sku"]) == ("sku_exists", "TEE-1")


async def test_unknown_category_is_422_naming_the_field(admin_products_client: AsyncClient) -> None:
    category = await create_category(admin_products_client)
    response = await admin_products_client.post(
        f"{API}/products",
        json={"sku": "X-1", "name": "X", "category_id": category["id"] + 1000, "price": "1.00"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "unknown_category"
    assert body["errors"][0]["pointer"] == "#/category_id"


@pytest.fixture
async def catalog(admin_products_client: AsyncClient) -> dict[str, Any]:
    kitchen = await create_category(admin_products_client, "Kitchen")
    garden = await create_category(admin_products_client, "Garden")
    specs = [
        ("KNIFE", "Chef knife", kitchen, "45.00", 40, "Forged steel"),
        ("PAN", "Frying pan", kitchen, "30.00", 3, "Cast iron, 100% oven safe"),
        ("HOSE", "Garden hose", garden, "25.00", 0, None),
        ("RAKE", "Leaf rake", garden, "15.00", 12, "Bamboo"),
    ]
    products = {}
    for sku, name, category, price, stock, description in specs:
        products[sku] = await create_product(
            admin_products_client,
            sku=sku,
            name=name,
            category_id=category["id"],
            price=price,
            initial_stock=stock,
            description=description,
        )
        # Distinct creation times, so sorting by created_at is meaningful.
        await asyncio.sleep(0.002)
    return {"kitchen": kitchen, "garden": garden, **products}


async def skus(client: AsyncClient, query: str) -> list[str]:
    response = await client.get(f"{API}/products?{query}")
    assert response.status_code == 200, response.text
    return [item["sku"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=pan", ["PAN"]),
        ("q=STEEL", ["KNIFE"]),
        ("q=100%25", ["PAN"]),  # `%` is matched literally, not as a wildcard
        ("q=_", []),
        ("min_price=25&max_price=30", ["PAN", "HOSE"]),
        ("stock_status=out_of_stock", ["HOSE"]),
        ("stock_status=low_stock", ["PAN"]),
        ("stock_status=in_stock", ["KNIFE", "RAKE"]),
    ],
)
async def test_list_filters(
    admin_products_client: AsyncClient, catalog: dict[str, Any], query: str, expected: list[str]
) -> None:
    assert await skus(admin_products_client, query) == expected


async def test_list_filters_by_category(
    admin_products_client: AsyncClient, catalog: dict[str, Any]
) -> None:
    assert await skus(admin_products_client, f"category_id={catalog['garden']['id']}") == [
        "HOSE",
        "RAKE",
    ]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["KNIFE", "PAN", "HOSE", "RAKE"]),
        ("-price", ["KNIFE", "PAN", "HOSE", "RAKE"]),
        ("price", ["RAKE", "HOSE", "PAN", "KNIFE"]),
        ("stock", ["HOSE", "PAN", "RAKE", "KNIFE"]),
        ("-stock", ["KNIFE", "RAKE", "PAN", "HOSE"]),
        ("created_at", ["KNIFE", "PAN", "HOSE", "RAKE"]),
        ("-created_at", ["RAKE", "HOSE", "PAN", "KNIFE"]),
    ],
)
async def test_list_sorts(
    admin_products_client: AsyncClient, catalog: dict[str, Any], sort: str, expected: list[str]
) -> None:
    assert await skus(admin_products_client, f"sort={sort}") == expected


async def test_list_pages_with_total(
    admin_products_client: AsyncClient, catalog: dict[str, Any]
) -> None:
    response = await admin_products_client.get(f"{API}/products?limit=3&offset=2&sort=name")
    body = response.json()
    assert (body["total"], body["limit"], body["offset"]) == (4, 3, 2)
    assert [item["sku"] for item in body["items"]] == ["HOSE", "RAKE"]


async def test_archived_products_are_hidden_unless_asked_for(
    admin_products_client: AsyncClient, catalog: dict[str, Any]
) -> None:
    response = await admin_products_client.delete(f"{API}/products/{catalog['PAN']['id']}")
    assert response.status_code == 204
    assert "PAN" not in await skus(admin_products_client, "")
    assert await skus(admin_products_client, "status=archived") == ["PAN"]
    archived = await admin_products_client.get(f"{API}/products/{catalog['PAN']['id']}")
    assert (archived.json()["status"], archived.json()["stock_on_hand"]) == ("archived", 3)


async def test_archiving_twice_is_harmless(admin_products_client: AsyncClient) -> None:
    product = await create_product(admin_products_client)
    first = await admin_products_client.delete(f"{API}/products/{product['id']}")
    second = await admin_products_client.delete(f"{API}/products/{product['id']}")
    assert (first.status_code, second.status_code) == (204, 204)
    current = await admin_products_client.get(f"{API}/products/{product['id']}")
    assert current.json()["status"] == "archived"


async def test_patch_changes_only_the_given_fields_and_updated_at(
    admin_products_client: AsyncClient,
) -> None:
    product = await create_product(admin_products_client, description="Old", cost_price="2.00")
    await asyncio.sleep(0.002)
    response = await admin_products_client.patch(
        f"{API}/products/{product['id']}", json={"price": "11.25", "description": None}
    )
    assert response.status_code == 200
    updated = response.json()
    assert (updated["price"], updated["description"]) == ("11.25", None)
    unchanged = ("sku", "name", "cost_price", "category_id", "created_at", "stock_on_hand")
    assert {k: updated[k] for k in unchanged} == {k: product[k] for k in unchanged}
    assert updated["updated_at"] > product["updated_at"]


async def test_patch_can_restore_an_archived_product(admin_products_client: AsyncClient) -> None:
    product = await create_product(admin_products_client)
    await admin_products_client.delete(f"{API}/products/{product['id']}")
    response = await admin_products_client.patch(
        f"{API}/products/{product['id']}", json={"status": "active"}
    )
    assert response.json()["status"] == "active"


async def test_patch_moves_product_to_another_category(admin_products_client: AsyncClient) -> None:
    product = await create_product(admin_products_client)
    other = await create_category(admin_products_client, "Elsewhere")
    response = await admin_products_client.patch(
        f"{API}/products/{product['id']}", json={"category_id": other["id"]}
    )
    assert response.json()["category"]["name"] == "Elsewhere"


async def test_cost_price_is_shown_to_admins_only(
    admin_products_client: AsyncClient, settings: Settings, isolated_database: Database
) -> None:
    product = await create_product(admin_products_client, cost_price="3.40")
    assert product["cost_price"] == "3.40"
    customer = await make_account(isolated_database, settings)
    async for public in serve(build_app(settings=settings, database=isolated_database)):
        for headers in ({}, bearer(customer, settings)):
            one = await public.get(f"{API}/products/{product['id']}", headers=headers)
            listed = await public.get(f"{API}/products", headers=headers)
            assert one.json()["cost_price"] is None
            assert one.json()["price"] == "10.00"
            assert [item["cost_price"] for item in listed.json()["items"]] == [None]
