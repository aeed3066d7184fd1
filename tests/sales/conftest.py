"""Catalog factories for sales tests: products are made through the products service's API,
as a manager would make them."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from httpx import AsyncClient

from common.config import Settings
from common.db import Database
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.conftest import serve_as_admin

_serial = itertools.count(1)


@dataclass
class Catalog:
    client: AsyncClient

    async def category(self, name: str | None = None) -> int:
        response = await self.client.post(
            "/api/v1/categories", json={"name": name or f"Category {next(_serial)}"}
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def product(
        self,
        *,
        category_id: int,
        price: str = "10.00",
        cost_price: str | None = "4.00",
        stock: int = 100,
        sku: str | None = None,
    ) -> int:
        serial = next(_serial)
        body: dict[str, object] = {
            "sku": sku or f"SKU-{serial:06d}",
            "name": f"Product {serial}",
            "category_id": category_id,
            "price": price,
            "initial_stock": stock,
        }
        if cost_price is not None:
            body["cost_price"] = cost_price
        response = await self.client.post("/api/v1/products", json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def archive(self, product_id: int) -> None:
        response = await self.client.delete(f"/api/v1/products/{product_id}")
        assert response.status_code in (200, 204), response.text

    async def stock(self, product_id: int) -> int:
        response = await self.client.get(f"/api/v1/products/{product_id}")
        return int(response.json()["stock_on_hand"])


@pytest.fixture
async def catalog(settings: Settings, isolated_database: Database) -> AsyncIterator[Catalog]:
    app = build_products_app(settings=settings, database=isolated_database)
    async for client in serve_as_admin(app, settings, isolated_database):
        yield Catalog(client)


@pytest.fixture
async def admin_sales_client(
    settings: Settings, isolated_database: Database
) -> AsyncIterator[AsyncClient]:
    """The sales service as an admin: recording sales and reading analytics are admin work."""
    app = build_sales_app(settings=settings, database=isolated_database)
    async for client in serve_as_admin(app, settings, isolated_database, "http://sales.test"):
        yield client


def money(value: str | int | Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))
