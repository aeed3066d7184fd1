"""Analytics CSVs are written like every export: text quoted, formula cells neutralized."""

from __future__ import annotations

import csv
import io

from httpx import AsyncClient

from tests.fixtures.factories import Catalog, create_category, create_product


async def test_report_names_that_look_like_formulas_are_neutralized(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    category = (await create_category(catalog.client, "\uff1dSUM(A1)"))["id"]
    product = await create_product(
        catalog.client, category_id=category, name="@cmd|' /C calc'!A0", initial_stock=5
    )
    sold = await admin_sales_client.post(
        "/api/v1/sales", json={"product_id": product["id"], "quantity": 1}
    )
    assert sold.status_code == 201, sold.text
    csv_only = {"Accept": "text/csv"}
    by_product = await admin_sales_client.get(
        "/api/v1/analytics/revenue/by-product", headers=csv_only
    )
    by_category = await admin_sales_client.get(
        "/api/v1/analytics/revenue/by-category", headers=csv_only
    )
    products = list(csv.DictReader(io.StringIO(by_product.text)))
    categories = list(csv.DictReader(io.StringIO(by_category.text)))
    assert [row["name"] for row in products] == ["'@cmd|' /C calc'!A0"]
    assert "'\uff1dSUM(A1)" in [row["category_name"] for row in categories]
    assert "\"'@cmd|' /C calc'!A0\"" in by_product.text  # quoted as a text cell
