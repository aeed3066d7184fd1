"""Every bad request gets its documented problem+json status and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.models import Category, InventoryMovement, Product
from common.models.catalog import MAX_STOCK
from tests.fixtures.factories import API, create_category, create_product

BIG = 2**31  # one past INT
MALFORMED = object()


@pytest.fixture
async def ids(admin_products_client: AsyncClient) -> dict[str, int]:
    category = await create_category(admin_products_client, "Base")
    await create_category(admin_products_client, "Second")
    product = await create_product(
        admin_products_client, sku="BASE-1", category_id=category["id"], initial_stock=5
    )
    await create_product(admin_products_client, sku="OTHER-1", category_id=category["id"])
    return {
        "C": category["id"],
        "P": product["id"],
        "UC": category["id"] + 1000,
        "UP": product["id"] + 1000,
    }


def product_body(**fields: Any) -> dict[str, Any]:
    return {"sku": "NEW-1", "name": "New", "category_id": "{C}", "price": "9.99", **fields}


CASES: list[tuple[str, str, str, Any, int, str]] = [
    # id, method, path, body, status, code
    ("category-empty-name", "POST", "/categories", {"name": "  "}, 422, "validation_failed"),
    ("category-long-name", "POST", "/categories", {"name": "x" * 101}, 422, "validation_failed"),
    ("category-name-type", "POST", "/categories", {"name": 5}, 422, "validation_failed"),
    (
        "category-extra-field",
        "POST",
        "/categories",
        {"name": "A", "x": 1},
        422,
        "validation_failed",
    ),
    ("category-duplicate", "POST", "/categories", {"name": "SECOND"}, 409, "category_exists"),
    ("category-malformed", "POST", "/categories", MALFORMED, 422, "validation_failed"),
    ("category-null-name", "PATCH", "/categories/{C}", {"name": None}, 422, "validation_failed"),
    ("category-rename-dup", "PATCH", "/categories/{C}", {"name": "second"}, 409, "category_exists"),
    (
        "category-unknown-patch",
        "PATCH",
        "/categories/{UC}",
        {"name": "Z"},
        404,
        "category_not_found",
    ),
    ("category-not-empty", "DELETE", "/categories/{C}", None, 409, "category_not_empty"),
    ("category-unknown-delete", "DELETE", "/categories/{UC}", None, 404, "category_not_found"),
    ("category-id-zero", "DELETE", "/categories/0", None, 422, "validation_failed"),
    ("category-id-word", "GET", "/categories/abc", None, 422, "validation_failed"),
    ("category-id-huge", "GET", f"/categories/{BIG}", None, 422, "validation_failed"),
    ("price-zero", "POST", "/products", product_body(price=0), 422, "validation_failed"),
    ("price-negative", "POST", "/products", product_body(price="-1"), 422, "validation_failed"),
    ("price-3-places", "POST", "/products", product_body(price="1.005"), 422, "validation_failed"),
    ("price-too-big", "POST", "/products", product_body(price=1e12), 422, "validation_failed"),
    ("price-nan", "POST", "/products", product_body(price="NaN"), 422, "validation_failed"),
    ("price-word", "POST", "/products", product_body(price="cheap"), 422, "validation_failed"),
    (
        "price-missing",
        "POST",
        "/products",
        {"sku": "A", "name": "A", "category_id": "{C}"},
        422,
        "validation_failed",
    ),
    (
        "cost-negative",
        "POST",
        "/products",
        product_body(cost_price="-0.01"),
        422,
        "validation_failed",
    ),
    ("sku-space", "POST", "/products", product_body(sku="A B"), 422, "validation_failed"),
    ("sku-long", "POST", "/products", product_body(sku="A" * 65), 422, "validation_failed"),
    ("sku-duplicate", "POST", "/products", product_body(sku="base-1"), 409, "sku_exists"),
    ("name-long", "POST", "/products", product_body(name="n" * 201), 422, "validation_failed"),
    (
        "description-long",
        "POST",
        "/products",
        product_body(description="d" * 5001),
        422,
        "validation_failed",
    ),
    (
        "image-url-scheme",
        "POST",
        "/products",
        product_body(image_url="javascript:alert(1)"),
        422,
        "validation_failed",
    ),
    (
        "initial-negative",
        "POST",
        "/products",
        product_body(initial_stock=-1),
        422,
        "validation_failed",
    ),
    (
        "initial-absurd",
        "POST",
        "/products",
        product_body(initial_stock=MAX_STOCK + 1),
        422,
        "validation_failed",
    ),
    (
        "initial-float",
        "POST",
        "/products",
        product_body(initial_stock=1.5),
        422,
        "validation_failed",
    ),
    (
        "threshold-negative",
        "POST",
        "/products",
        product_body(low_stock_threshold=-1),
        422,
        "validation_failed",
    ),
    (
        "category-unknown",
        "POST",
        "/products",
        product_body(category_id="{UC}"),
        422,
        "unknown_category",
    ),
    (
        "category-id-int-overflow",
        "POST",
        "/products",
        product_body(category_id=BIG),
        422,
        "validation_failed",
    ),
    ("patch-stock", "PATCH", "/products/{P}", {"stock_on_hand": 100}, 422, "validation_failed"),
    ("patch-null-name", "PATCH", "/products/{P}", {"name": None}, 422, "validation_failed"),
    ("patch-null-price", "PATCH", "/products/{P}", {"price": None}, 422, "validation_failed"),
    ("patch-price-zero", "PATCH", "/products/{P}", {"price": "0"}, 422, "validation_failed"),
    ("patch-status", "PATCH", "/products/{P}", {"status": "deleted"}, 422, "validation_failed"),
    (
        "patch-unknown-category",
        "PATCH",
        "/products/{P}",
        {"category_id": "{UC}"},
        422,
        "unknown_category",
    ),
    ("patch-sku-taken", "PATCH", "/products/{P}", {"sku": "other-1"}, 409, "sku_exists"),
    ("patch-unknown-product", "PATCH", "/products/{UP}", {"name": "X"}, 404, "product_not_found"),
    ("archive-unknown", "DELETE", "/products/{UP}", None, 404, "product_not_found"),
    ("product-id-huge", "GET", f"/products/{BIG}", None, 422, "validation_failed"),
    (
        "adjust-zero",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"delta": 0, "kind": "restock"},
        422,
        "validation_failed",
    ),
    (
        "adjust-no-kind",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"delta": 1},
        422,
        "validation_failed",
    ),
    (
        "adjust-both",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"delta": 1, "kind": "restock", "set_to": 3},
        422,
        "validation_failed",
    ),
    ("adjust-neither", "POST", "/products/{P}/inventory/adjustments", {}, 422, "validation_failed"),
    (
        "adjust-negative-restock",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"delta": -1, "kind": "restock"},
        422,
        "validation_failed",
    ),
    (
        "adjust-sale-kind",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"delta": -1, "kind": "sale"},
        422,
        "validation_failed",
    ),
    (
        "adjust-absurd-delta",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"delta": MAX_STOCK + 1, "kind": "restock"},
        422,
        "validation_failed",
    ),
    (
        "adjust-delta-word",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"delta": "lots", "kind": "restock"},
        422,
        "validation_failed",
    ),
    (
        "adjust-set-negative",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"set_to": -1},
        422,
        "validation_failed",
    ),
    (
        "adjust-set-huge",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"set_to": 2**40},
        422,
        "validation_failed",
    ),
    (
        "adjust-long-note",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"set_to": 1, "note": "n" * 501},
        422,
        "validation_failed",
    ),
    (
        "adjust-below-zero",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"delta": -6, "kind": "damage"},
        409,
        "insufficient_stock",
    ),
    (
        "adjust-stale",
        "POST",
        "/products/{P}/inventory/adjustments",
        {"set_to": 1, "expected_on_hand": 4},
        409,
        "stale_stock",
    ),
    (
        "adjust-unknown-product",
        "POST",
        "/products/{UP}/inventory/adjustments",
        {"set_to": 1},
        404,
        "product_not_found",
    ),
    ("list-bad-sort", "GET", "/products?sort=weight", None, 422, "validation_failed"),
    ("list-limit-zero", "GET", "/products?limit=0", None, 422, "validation_failed"),
    ("list-limit-huge", "GET", "/products?limit=201", None, 422, "validation_failed"),
    ("list-offset-negative", "GET", "/products?offset=-1", None, 422, "validation_failed"),
    ("list-price-negative", "GET", "/products?min_price=-1", None, 422, "validation_failed"),
    ("list-price-word", "GET", "/products?max_price=abc", None, 422, "validation_failed"),
    ("list-status", "GET", "/products?status=deleted", None, 422, "validation_failed"),
    ("list-stock-status", "GET", "/products?stock_status=plenty", None, 422, "validation_failed"),
    ("list-q-long", "GET", "/products?q=" + "q" * 201, None, 422, "validation_failed"),
    ("inventory-unknown", "GET", "/products/{UP}/inventory", None, 404, "product_not_found"),
    (
        "movements-unknown",
        "GET",
        "/products/{UP}/inventory/movements",
        None,
        404,
        "product_not_found",
    ),
    (
        "movements-bad-cursor",
        "GET",
        "/products/{P}/inventory/movements?cursor=bm9wZQ",
        None,
        422,
        "invalid_cursor",
    ),
    (
        "movements-bad-kind",
        "GET",
        "/products/{P}/inventory/movements?kind=theft",
        None,
        422,
        "validation_failed",
    ),
    (
        "levels-interval",
        "GET",
        "/products/{P}/inventory/levels?interval=hour",
        None,
        422,
        "validation_failed",
    ),
    (
        "levels-reversed",
        "GET",
        "/products/{P}/inventory/levels?start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z",
        None,
        422,
        "invalid_input",
    ),
    (
        "levels-too-many",
        "GET",
        "/products/{P}/inventory/levels?start=2000-01-01T00:00:00Z&end=2026-01-01T00:00:00Z",
        None,
        422,
        "invalid_input",
    ),
    ("levels-unknown", "GET", "/products/{UP}/inventory/levels", None, 404, "product_not_found"),
    ("as-of-naive", "GET", "/inventory?as_of=2026-01-01T00:00:00", None, 422, "validation_failed"),
    (
        "as-of-ancient",
        "GET",
        "/inventory?as_of=0001-01-01T00:00:00%2B05:00",
        None,
        422,
        "validation_failed",
    ),
    ("as-of-word", "GET", "/inventory?as_of=yesterday", None, 422, "validation_failed"),
    (
        "low-stock-category",
        "GET",
        "/inventory/low-stock?category_id=0",
        None,
        422,
        "validation_failed",
    ),
]


def fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str):
        for name, number in ids.items():
            if value == "{" + name + "}":
                return number
            value = value.replace("{" + name + "}", str(number))
        return value
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    return value


async def snapshot(session: AsyncSession) -> tuple[Any, ...]:
    """Everything a write could change, read fresh from the database."""
    tables = (
        select(Category.id, Category.name, Category.slug, Category.updated_at),
        select(
            Product.id,
            Product.sku,
            Product.name,
            Product.category_id,
            Product.price,
            Product.status,
            Product.stock_on_hand,
            Product.updated_at,
        ),
        select(InventoryMovement.id, InventoryMovement.quantity_after),
    )
    state = []
    for statement in tables:
        state.append([tuple(row) for row in (await session.execute(statement)).all()])
    return tuple(state)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_bad_request_is_a_problem_and_changes_nothing(
    admin_products_client: AsyncClient,
    session: AsyncSession,
    ids: dict[str, int],
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    before = await snapshot(session)
    if body is MALFORMED:
        options: dict[str, Any] = {
            "content": b'{"name": ',
            "headers": {"content-type": "application/json"},
        }
    else:
        options = {} if body is None else {"json": fill(body, ids)}
    response = await admin_products_client.request(method, API + fill(path, ids), **options)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await snapshot(session) == before
