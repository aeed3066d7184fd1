"""Anonymous product reads show `stock_status` only (in_stock | low_stock | out_of_stock);
admins keep `stock_on_hand`, `reserved`, `available` and the threshold (issue 13: anonymous
reads used to show the exact numbers, which tells a competitor or a scalper how much is left)."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from common.config import Settings
from common.db import Database
from tests.fixtures.factories import API, Catalog, bearer, make_account

NUMBERS = ("stock_on_hand", "reserved", "available", "low_stock_threshold", "cost_price")


def stock_of(product: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(product[name] for name in (*NUMBERS, "stock_status"))


async def test_anonymous_and_customers_see_the_status_only(
    catalog: Catalog,
    admin_products_client: AsyncClient,
    products_client: AsyncClient,
    isolated_database: Database,
    settings: Settings,
) -> None:
    category = await catalog.category()
    plenty = await catalog.product(category_id=category, stock=50)
    few = await catalog.product(category_id=category, stock=3)  # threshold 10: low
    none = await catalog.product(category_id=category, stock=0)
    customer = bearer(await make_account(isolated_database, settings), settings)
    expected = {plenty: "in_stock", few: "low_stock", none: "out_of_stock"}
    for headers in ({}, customer):
        for product_id, status in expected.items():
            read = await products_client.get(f"{API}/products/{product_id}", headers=headers)
            assert read.status_code == 200
            assert stock_of(read.json()) == (None, None, None, None, None, status)
        listed = await products_client.get(
            f"{API}/products", params={"category_id": category}, headers=headers
        )
        assert {item["id"]: stock_of(item) for item in listed.json()["items"]} == {
            product_id: (None, None, None, None, None, status)
            for product_id, status in expected.items()
        }
    admin_view = await admin_products_client.get(f"{API}/products/{few}")
    assert stock_of(admin_view.json()) == (3, 0, 3, 10, "4.00", "low_stock")


async def test_the_spec_documents_the_numbers_as_admin_only(products_client: AsyncClient) -> None:
    spec = (await products_client.get("/openapi.json")).json()
    fields = spec["components"]["schemas"]["ProductRead"]["properties"]
    for name in ("stock_on_hand", "reserved", "low_stock_threshold"):
        assert "admins only" in fields[name]["description"].lower(), name
    status = fields["stock_status"]
    if "$ref" in status:
        status = spec["components"]["schemas"][status["$ref"].rsplit("/", 1)[1]]
    assert set(status["enum"]) == {"in_stock", "low_stock", "out_of_stock"}
