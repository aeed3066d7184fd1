"""Concurrent writers on one product, on real MariaDB connections."""

from __future__ import annotations

import asyncio

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from common.db import Database
from common.inventory.audit import reconcile
from common.models import InventoryMovement, MovementKind
from tests.fixtures.factories import API, adjust, create_category, create_product

CLIENTS = 50
STOCK = 20
CONCURRENT_CREATES = 8


@pytest.mark.mysql_only
async def test_fifty_clients_cannot_take_more_than_twenty_units(
    committed_admin_products_client: AsyncClient, committed_database: Database
) -> None:
    product = await create_product(committed_admin_products_client, initial_stock=STOCK)

    async def take_one() -> tuple[int, dict[str, object]]:
        response = await adjust(
            committed_admin_products_client, product["id"], delta=-1, kind="correction"
        )
        return response.status_code, response.json()

    results = await asyncio.gather(*(take_one() for _ in range(CLIENTS)))

    statuses = [status for status, _ in results]
    assert (statuses.count(201), statuses.count(409)) == (STOCK, CLIENTS - STOCK)
    refusals = {body["code"] for status, body in results if status == 409}
    assert refusals == {"insufficient_stock"}
    inventory = await committed_admin_products_client.get(
        f"{API}/products/{product['id']}/inventory"
    )
    assert inventory.json()["on_hand"] == 0
    async with committed_database.session_factory() as session:
        assert await reconcile(session) == []
        chain = (
            await session.scalars(
                select(InventoryMovement.quantity_after)
                .where(
                    InventoryMovement.product_id == product["id"],
                    InventoryMovement.kind == MovementKind.CORRECTION.value,
                )
                .order_by(InventoryMovement.id)
            )
        ).all()
    assert chain == list(range(STOCK - 1, -1, -1))


@pytest.mark.mysql_only
async def test_concurrent_creates_of_one_sku_leave_one_product(
    committed_admin_products_client: AsyncClient,
) -> None:
    category = await create_category(committed_admin_products_client, "Race")

    async def create() -> tuple[int, str]:
        response = await committed_admin_products_client.post(
            f"{API}/products",
            json={"sku": "RACE-1", "name": "Race", "category_id": category["id"], "price": "1"},
        )
        return response.status_code, response.json().get("code", "")

    results = await asyncio.gather(*(create() for _ in range(CONCURRENT_CREATES)))
    assert sorted(results) == [(201, "")] + [(409, "sku_exists")] * (CONCURRENT_CREATES - 1)
    listing = await committed_admin_products_client.get(f"{API}/products", params={"q": "RACE-1"})
    assert listing.json()["total"] == 1


@pytest.mark.mysql_only
async def test_concurrent_creates_of_one_category_name_leave_one_category(
    committed_admin_products_client: AsyncClient,
) -> None:
    async def create(name: str) -> tuple[int, str]:
        response = await committed_admin_products_client.post(
            f"{API}/categories", json={"name": name}
        )
        return response.status_code, response.json().get("code", "")

    names = ["Racing", "RACING", "racing", "Racing "] * 2
    results = await asyncio.gather(*(create(name) for name in names))
    assert sorted(results) == [(201, "")] + [(409, "category_exists")] * (len(names) - 1)
