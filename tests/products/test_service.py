"""How the products service is assembled: its OpenAPI description and the one write guard."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import Depends
from httpx import AsyncClient

from common.config import Settings
from common.db import Database
from common.errors import Forbidden
from products_microservice.main import build_app
from tests.conftest import serve
from tests.products.factories import API

WRITES = {"post", "patch", "delete"}


def refuse() -> None:
    raise Forbidden("writes are closed")


@pytest.fixture
async def guarded_client(
    settings: Settings, isolated_database: Database
) -> AsyncIterator[AsyncClient]:
    app = build_app(
        settings=settings, database=isolated_database, write_dependencies=[Depends(refuse)]
    )
    async for client in serve(app):
        yield client


async def test_openapi_tags_and_documents_every_problem(products_client: AsyncClient) -> None:
    spec = (await products_client.get("/openapi.json")).json()
    assert {"categories", "products", "inventory"} <= {tag["name"] for tag in spec["tags"]}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in WRITES and path.startswith(API):
                assert {"409", "422"} & set(operation["responses"]), (method, path)
                problem = operation["responses"]["422"]["content"]["application/problem+json"]
                assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}


async def test_one_dependency_guards_every_write_and_no_read(guarded_client: AsyncClient) -> None:
    spec = (await guarded_client.get("/openapi.json")).json()
    writes = [
        (method, path.replace("{category_id}", "1").replace("{product_id}", "1"))
        for path, item in spec["paths"].items()
        for method in item
        if method in WRITES
    ]
    assert len(writes) == 7
    for method, path in writes:
        response = await guarded_client.request(method, path, json={})
        assert (response.status_code, response.json()["code"]) == (403, "forbidden"), path
    assert (await guarded_client.get(f"{API}/products")).status_code == 200
