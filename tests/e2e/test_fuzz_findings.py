"""What the fuzzer found, pinned: each a request the spec allowed and the service mishandled
(a 500, or a 422 for input the spec documents as valid)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from common.config import Settings
from common.db import Database
from common.models.identity import Role
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.clients import serve_as

ANALYTICS = "/api/v1/analytics"


def _client(build: Callable[..., FastAPI]) -> Any:
    async def fixture(
        settings: Settings, isolated_database: Database
    ) -> AsyncIterator[AsyncClient]:
        app = build(settings=settings, database=isolated_database)
        async for client in serve_as(app, settings, isolated_database, Role.admin):
            yield client

    return pytest.fixture(fixture)


sales = _client(build_sales_app)
products = _client(build_products_app)


def _property(spec: dict[str, Any], model: str, field: str) -> dict[str, Any]:
    return spec["components"]["schemas"][model]["properties"][field]  # type: ignore[no-any-return]


@pytest.mark.parametrize("report", ["/revenue", "/revenue/by-category", "/summary"])
async def test_analytics_id_beyond_int_is_422_not_500(sales: AsyncClient, report: str) -> None:
    response = await sales.get(f"{ANALYTICS}{report}", params={"product_id": -(2**80)})
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "product_id.0"


@pytest.mark.parametrize(
    "query",
    [
        {"start": "0001-01-01", "end": "0001-01-05", "compare": "previous_period"},
        {"start": "0001-01-01", "end": "0001-02-05", "compare": "previous_year"},
        {"start": "9999-12-01", "end": "9999-12-31"},
    ],
)
async def test_analytics_days_at_the_calendar_edges_are_422_not_500(
    sales: AsyncClient, query: dict[str, str]
) -> None:
    response = await sales.get(f"{ANALYTICS}/revenue", params=query)
    assert response.status_code == 422
    assert "the year must be between 1970 and 8999" in response.json()["detail"]


async def test_money_inputs_are_documented_as_decimal_strings(products: AsyncClient) -> None:
    spec = (await products.get("/openapi.json")).json()
    price = _property(spec, "ProductCreate", "price")
    assert price["type"] == "string"
    assert "anyOf" not in price
    assert re.match(price["pattern"], "12.50")
    assert not re.match(price["pattern"], "0.00")  # a price is positive
    assert not re.match(price["pattern"], "Ws")
    (min_price,) = [
        p
        for p in spec["paths"]["/api/v1/products"]["get"]["parameters"]
        if p["name"] == "min_price"
    ]
    assert min_price["schema"]["anyOf"][0]["type"] == "string"


async def test_a_documented_money_string_is_accepted(products: AsyncClient) -> None:
    response = await products.get("/api/v1/products", params={"min_price": "0.01"})
    assert response.status_code == 200


async def test_patch_fields_that_refuse_null_are_not_documented_nullable(
    products: AsyncClient,
) -> None:
    spec = (await products.get("/openapi.json")).json()
    name = _property(spec, "CategoryUpdate", "name")
    description = _property(spec, "CategoryUpdate", "description")
    assert name["type"] == "string"
    assert "anyOf" not in name
    assert {"type": "null"} in description["anyOf"]  # null clears the description


async def test_patch_with_null_for_a_required_field_is_still_422(products: AsyncClient) -> None:
    created = await products.post("/api/v1/categories", json={"name": "Nullable?"})
    response = await products.patch(
        f"/api/v1/categories/{created.json()['id']}", json={"name": None}
    )
    assert response.status_code == 422
    assert "name cannot be null" in response.json()["detail"]


@pytest.mark.parametrize("text", ["a\x00b", " \u0085 "])
async def test_text_refused_by_validation_is_outside_the_documented_pattern(
    products: AsyncClient, text: str
) -> None:
    spec = (await products.get("/openapi.json")).json()
    pattern = _property(spec, "CategoryCreate", "name")["pattern"]
    response = await products.post("/api/v1/categories", json={"name": text})
    assert response.status_code == 422
    assert not re.match(pattern, text)


async def test_instants_document_the_accepted_years(products: AsyncClient) -> None:
    spec = (await products.get("/openapi.json")).json()
    (as_of,) = [
        p for p in spec["paths"]["/api/v1/inventory"]["get"]["parameters"] if p["name"] == "as_of"
    ]
    pattern = as_of["schema"]["anyOf"][0]["pattern"]
    assert re.match(pattern, "2026-03-01T12:00:00Z")
    assert not re.match(pattern, "1052-10-24T04:05:16-06:53")
    refused = await products.get("/api/v1/inventory", params={"as_of": "1052-10-24T04:05:16Z"})
    assert refused.status_code == 422


async def test_email_with_a_next_line_character_is_outside_the_documented_pattern(
    sales: AsyncClient,
) -> None:
    spec = (await sales.get("/openapi.json")).json()
    pattern = _property(spec, "CustomerCreate", "email")["pattern"]
    email = "a\u0085b@example.test"
    # ECMA-262's `\s` (how clients read the pattern) lacks U+0085; pydantic's includes it.
    assert "\\x85" in pattern
    response = await sales.post(
        "/api/v1/customers",
        json={"email": email, "password": "long enough secret", "full_name": "A"},
    )
    assert response.status_code == 422


async def test_a_phone_too_short_once_trimmed_is_outside_the_documented_pattern(
    sales: AsyncClient,
) -> None:
    spec = (await sales.get("/openapi.json")).json()
    phone = _property(spec, "CustomerCreate", "phone")["anyOf"][0]
    assert len("78 ") >= phone["minLength"]
    assert not re.match(phone["pattern"], "78 ")
    assert re.match(phone["pattern"], "+33 1 23 45 67 89")


@pytest.mark.parametrize("value", ["0.0004380328908835956", "1700000000", "86400"])
async def test_numbers_are_not_dates_or_times(
    products: AsyncClient, sales: AsyncClient, value: str
) -> None:
    """Negative mode found `end=0.00043` accepted as a moment of 1970 (pydantic reads numbers
    as Unix times); the spec offers ISO 8601 text only."""
    for client, path, params in (
        (products, "/api/v1/products/1/inventory/movements", {"end": value}),
        (products, "/api/v1/inventory", {"as_of": value}),
        (sales, f"{ANALYTICS}/revenue", {"start": value}),
    ):
        response = await client.get(path, params=params)
        assert response.status_code == 422, (path, response.text)
        assert "ISO 8601" in response.json()["errors"][0]["detail"]
    body = {"product_id": 1, "quantity": 1, "sold_at": int(float(value))}
    recorded = await sales.post("/api/v1/sales", json=body)
    assert (recorded.status_code, recorded.json()["errors"][0]["pointer"]) == (422, "#/sold_at")
