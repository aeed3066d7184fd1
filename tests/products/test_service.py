"""How the products service describes itself in OpenAPI."""

from __future__ import annotations

from httpx import AsyncClient

from tests.fixtures.factories import API

WRITES = {"post", "patch", "delete"}


async def test_openapi_tags_and_documents_every_problem(admin_products_client: AsyncClient) -> None:
    spec = (await admin_products_client.get("/openapi.json")).json()
    assert {"categories", "products", "inventory"} <= {tag["name"] for tag in spec["tags"]}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in WRITES and path.startswith(API):
                assert {"409", "422"} & set(operation["responses"]), (method, path)
                problem = operation["responses"]["422"]["content"]["application/problem+json"]
                assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}
