"""Concurrent writers on one product, on real MariaDB connections."""

from __future__ import annotations

import asyncio

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from common.db import Database
from common.inventory import reconcile
from common.models import InventoryMovement, MovementKind
from tests.products.factories import API, adjust, create_product

CLIENTS = 50
STOCK = 20


@pytest.mark.mysql_only
async def test_fifty_clients_cannot_take_more_than_twenty_units(
    committed_products_client: AsyncClient, committed_database: Database
) -> None:
    product = await create_product(committed_products_client, initial_stock=STOCK)

    async def take_one() -> tuple[int, dict[str, object]]:
        response = await adjust(
            committed_products_client, product["id"], delta=-1, kind="correction"
        )
        return response.status_code, response.json()

    results = await asyncio.gather(*(take_one() for _ in range(CLIENTS)))

    statuses = [status for status, _ in results]
    assert (statuses.count(201), statuses.count(409)) == (STOCK, CLIENTS - STOCK)
    refusals = {body["code"] for status, body in results if status == 409}
    assert refusals == {"insufficient_stock"}
    inventory = await committed_products_client.get(f"{API}/products/{product['id']}/inventory")
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
