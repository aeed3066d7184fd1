"""Plain async factories that go through the API, as a client would."""

from __future__ import annotations

import itertools
from typing import Any

from httpx import AsyncClient

API = "/api/v1"
_sequence = itertools.count(1)


async def create_category(client: AsyncClient, name: str | None = None, **fields: Any) -> Any:
    response = await client.post(
        f"{API}/categories", json={"name": name or f"Category {next(_sequence)}", **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def create_product(
    client: AsyncClient, *, category_id: int | None = None, **fields: Any
) -> Any:
    if category_id is None:
        category_id = (await create_category(client))["id"]
    number = next(_sequence)
    body = {
        "sku": f"SKU-{number}",
        "name": f"Product {number}",
        "category_id": category_id,
        "price": "10.00",
        **fields,
    }
    response = await client.post(f"{API}/products", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def adjust(client: AsyncClient, product_id: int, **body: Any) -> Any:
    return await client.post(f"{API}/products/{product_id}/inventory/adjustments", json=body)
