"""Recording and listing sales through the sales service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from httpx import AsyncClient

from tests.fixtures.factories import Catalog, money

PROBLEM = "application/problem+json"


async def _sales_count(admin_sales_client: AsyncClient) -> int:
    return int((await admin_sales_client.get("/api/v1/sales")).json()["total"])


async def test_sale_takes_stock_and_snapshots_prices(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    category = await catalog.category()
    product = await catalog.product(
        category_id=category, price="19.99", cost_price="7.25", stock=10
    )
    response = await admin_sales_client.post(
        "/api/v1/sales", json={"product_id": product, "quantity": 3}
    )
    assert response.status_code == 201
    sale = response.json()
    assert response.headers["location"] == f"/api/v1/sales/{sale['id']}"
    assert (sale["kind"], sale["quantity"], sale["category_id"]) == ("sale", 3, category)
    assert money(sale["unit_price"]) == money("19.99")
    assert money(sale["revenue"]) == money("59.97")
    assert money(sale["unit_cost"]) == money("7.25")
    assert money(sale["cost"]) == money("21.75")
    assert await catalog.stock(product) == 7
    fetched = await admin_sales_client.get(f"/api/v1/sales/{sale['id']}")
    assert fetched.json() == sale


async def test_sale_price_can_be_given_and_time_in_the_past(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await catalog.product(category_id=await catalog.category())
    sold_at = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)
    response = await admin_sales_client.post(
        "/api/v1/sales",
        json={
            "product_id": product,
            "quantity": 2,
            "unit_price": "8.50",
            "sold_at": sold_at.isoformat(),
        },
    )
    sale = response.json()
    assert money(sale["revenue"]) == money("17.00")
    assert datetime.fromisoformat(sale["sold_at"]) == sold_at
    assert sale["business_date"] == "2024-02-29"  # the store runs on UTC in tests


async def test_sale_beyond_stock_is_409_with_available_and_writes_nothing(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await catalog.product(category_id=await catalog.category(), stock=2)
    response = await admin_sales_client.post(
        "/api/v1/sales", json={"product_id": product, "quantity": 3}
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "insufficient_stock"
    assert body["available"] == 2
    assert await catalog.stock(product) == 2
    assert await _sales_count(admin_sales_client) == 0


async def test_sale_of_unknown_product_is_404(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await catalog.product(category_id=await catalog.category())
    response = await admin_sales_client.post(
        "/api/v1/sales", json={"product_id": product + 1000, "quantity": 1}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "product_not_found"


async def test_sale_of_archived_product_is_409(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await catalog.product(category_id=await catalog.category(), stock=5)
    await catalog.archive(product)
    response = await admin_sales_client.post(
        "/api/v1/sales", json={"product_id": product, "quantity": 1}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "product_archived"
    assert await catalog.stock(product) == 5


async def test_future_sale_is_422(admin_sales_client: AsyncClient, catalog: Catalog) -> None:
    product = await catalog.product(category_id=await catalog.category(), stock=5)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    response = await admin_sales_client.post(
        "/api/v1/sales",
        json={"product_id": product, "quantity": 1, "sold_at": tomorrow.isoformat()},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "sold_at_in_future"
    assert await catalog.stock(product) == 5


async def test_bad_sale_bodies_are_422_and_change_nothing(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await catalog.product(category_id=await catalog.category(), stock=5)
    bad_bodies = [
        {"product_id": product, "quantity": 0},
        {"product_id": product, "quantity": -1},
        {"product_id": product, "quantity": 10**12},
        {"product_id": product, "quantity": "three"},
        {"product_id": product, "quantity": 1.5},
        {"product_id": 0, "quantity": 1},
        {"product_id": 2**40, "quantity": 1},
        {"product_id": product, "quantity": 1, "unit_price": "-1.00"},
        {"product_id": product, "quantity": 1, "unit_price": "0"},
        {"product_id": product, "quantity": 1, "unit_price": "1.001"},
        {"product_id": product, "quantity": 1, "unit_price": "99999999999.00"},
        {"product_id": product, "quantity": 1, "sold_at": "2025-01-01T10:00:00"},  # no offset
        {"product_id": product, "quantity": 1, "sold_at": "yesterday"},
        {"product_id": product, "quantity": 1, "surprise": True},
        {"quantity": 1},
    ]
    for body in bad_bodies:
        response = await admin_sales_client.post("/api/v1/sales", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"], body
    assert await catalog.stock(product) == 5
    assert await _sales_count(admin_sales_client) == 0


async def test_revenue_beyond_the_money_column_is_422(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await catalog.product(category_id=await catalog.category(), stock=1_000_000)
    response = await admin_sales_client.post(
        "/api/v1/sales",
        json={"product_id": product, "quantity": 1_000_000, "unit_price": "9999999.99"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "amount_out_of_range"
    assert await catalog.stock(product) == 1_000_000


async def test_list_filters_by_product_category_and_half_open_time_range(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    first_category, second_category = await catalog.category(), await catalog.category()
    mug = await catalog.product(category_id=first_category)
    hat = await catalog.product(category_id=second_category)
    base = datetime(2025, 6, 1, 12, tzinfo=UTC)
    for offset, product in [(0, mug), (1, hat), (2, mug), (3, hat)]:
        await admin_sales_client.post(
            "/api/v1/sales",
            json={
                "product_id": product,
                "quantity": 1 + offset,
                "sold_at": (base + timedelta(hours=offset)).isoformat(),
            },
        )

    async def quantities(**params: object) -> list[int]:
        response = await admin_sales_client.get("/api/v1/sales", params=params)
        assert response.status_code == 200, response.text
        return [item["quantity"] for item in response.json()["items"]]

    assert await quantities() == [4, 3, 2, 1]  # newest first
    assert await quantities(sort="sold_at") == [1, 2, 3, 4]
    assert await quantities(sort="-revenue") == [4, 3, 2, 1]
    assert await quantities(product_id=mug) == [3, 1]
    assert await quantities(category_id=second_category) == [4, 2]
    start, end = base + timedelta(hours=1), base + timedelta(hours=3)
    assert await quantities(start=start.isoformat(), end=end.isoformat()) == [3, 2]
    page = (await admin_sales_client.get("/api/v1/sales", params={"limit": 3, "offset": 3})).json()
    assert (page["total"], len(page["items"]), page["limit"], page["offset"]) == (4, 1, 3, 3)


async def test_list_rejects_bad_filters(admin_sales_client: AsyncClient) -> None:
    for params in [
        {"start": "2025-01-02T00:00:00Z", "end": "2025-01-01T00:00:00Z"},
        {"start": "not-a-time"},
        {"sort": "price"},
        {"limit": 500},
        {"product_id": -1},
    ]:
        response = await admin_sales_client.get("/api/v1/sales", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == PROBLEM


async def test_unknown_sale_is_404(admin_sales_client: AsyncClient) -> None:
    response = await admin_sales_client.get("/api/v1/sales/987654")
    assert response.status_code == 404
    assert response.json()["code"] == "sale_not_found"


async def test_low_stock_days_of_cover_follow_the_last_30_days_of_sales(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    category = await catalog.category()
    selling = await catalog.product(category_id=category, stock=20)
    idle = await catalog.product(category_id=category, stock=3)
    long_ago = (datetime.now(UTC) - timedelta(days=45)).isoformat()
    for quantity, sold_at in [(9, None), (6, None), (4, long_ago)]:
        body: dict[str, object] = {"product_id": selling, "quantity": quantity}
        if sold_at:
            body["sold_at"] = sold_at
        assert (await admin_sales_client.post("/api/v1/sales", json=body)).status_code == 201
    low = await catalog.client.get("/api/v1/inventory/low-stock")
    cover = {item["product_id"]: item["days_of_cover"] for item in low.json()["items"]}
    # 1 unit left after 15 sold in the window (the 45-day-old sale is outside it): 15 / 30
    # = 0.5 a day, so 1 / 0.5 = 2.0 days; the idle product has no rate of sale.
    assert cover == {selling: "2.0", idle: None}
