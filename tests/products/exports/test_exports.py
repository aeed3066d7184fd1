"""Catalog and ledger exports: the import round trip (CSV and XLSX), the list endpoints'
rows for the same filters, formula cells neutralized, bad input and who may download."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient, Response
from openpyxl import load_workbook

from common.config import Settings
from common.db import Database
from common.exports import http
from common.exports.files import XLSX_MEDIA_TYPE
from common.models.identity import Role
from tests.fixtures.clients import client_for
from tests.fixtures.factories import API, adjust, create_category, create_product

# Names a spreadsheet would run as formulas, or that look neutralized already.
RISKY_NAMES = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\uff1dHYPERLINK()", "'=quoted", "Mug;=1+1;"]


def csv_records(response: Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def xlsx_records(response: Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX_MEDIA_TYPE
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


async def risky_catalog(client: AsyncClient) -> list[dict[str, Any]]:
    """Products with formula-like names, a description with commas, quotes and lines, one
    without a cost price, and a category whose name starts like a formula."""
    plain = (await create_category(client, "Tea"))["id"]
    risky = (await create_category(client, "=Risky"))["id"]
    products = [
        await create_product(client, category_id=risky, name=name, price="3.50", initial_stock=4)
        for name in RISKY_NAMES
    ]
    products.append(
        await create_product(
            client,
            category_id=plain,
            name="Green tea",
            description='Loose, "first flush"\nfrom Darjeeling',
            price="12.00",
            cost_price="7.25",
            low_stock_threshold=3,
        )
    )
    return products


async def import_back(client: AsyncClient, content: bytes, filename: str) -> dict[str, Any]:
    response = await client.post(
        f"{API}/products/import", files={"file": (filename, content, "application/octet-stream")}
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
async def test_exported_catalog_imports_back_unchanged(
    admin_products_client: AsyncClient, file_format: str
) -> None:
    products = await risky_catalog(admin_products_client)
    response = await admin_products_client.get(
        f"{API}/exports/products", params={"format": file_format}
    )
    assert response.status_code == 200, response.text
    report = await import_back(admin_products_client, response.content, f"back.{file_format}")
    assert report["ignored_columns"] == []
    assert (report["rows"], report["unchanged"]) == (len(products), len(products))
    assert (report["created"], report["updated"], report["failed"]) == (0, 0, 0)
    # And nothing changed indeed: the names are the formula-like texts themselves.
    listed = (await admin_products_client.get(f"{API}/products", params={"limit": 200})).json()
    assert {item["name"] for item in listed["items"]} == {p["name"] for p in products}


async def test_formula_cells_are_neutralized_and_text_is_quoted(
    admin_products_client: AsyncClient,
) -> None:
    await risky_catalog(admin_products_client)
    response = await admin_products_client.get(f"{API}/exports/products")
    lines = response.text.splitlines()
    assert lines[0] == ",".join(
        f'"{c}"'
        for c in (
            "sku",
            "name",
            "description",
            "category",
            "price",
            "cost_price",
            "low_stock_threshold",
            "stock",
        )
    )
    records = csv_records(response)
    names = {record["name"] for record in records}
    assert {"'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd", "'\uff1dHYPERLINK()", "''=quoted"} <= names
    assert "Mug;=1+1;" in names  # begins harmlessly; quoted, so `;` never splits it
    assert {record["category"] for record in records} == {"'=Risky", "Tea"}
    # No cell of any row begins like a formula.
    for row in csv.reader(io.StringIO(response.text)):
        assert not any(cell[:1] and cell[0] in "=+-@\t\r\uff1d\uff0b\uff0d\uff20" for cell in row)


async def test_xlsx_cells_are_neutralized_text(admin_products_client: AsyncClient) -> None:
    await risky_catalog(admin_products_client)
    response = await admin_products_client.get(
        f"{API}/exports/products", headers={"Accept": XLSX_MEDIA_TYPE}
    )
    records = xlsx_records(response)
    assert "'=1+1" in {record["name"] for record in records}
    assert response.headers["content-disposition"].endswith('.xlsx"')


async def test_export_has_a_dated_file_name(admin_products_client: AsyncClient) -> None:
    response = await admin_products_client.get(f"{API}/exports/products")
    today = datetime.now(UTC).date().isoformat()  # the test store's zone is UTC
    assert response.headers["content-disposition"] == (
        f'attachment; filename="products-{today}.csv"'
    )
    assert csv_records(response) == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "tea"},
        {"min_price": "5.00"},
        {"status": "archived"},
        {"stock_status": "out_of_stock"},
        {"category": True},
    ],
)
async def test_product_export_rows_are_the_list_items(
    admin_products_client: AsyncClient, params: dict[str, Any]
) -> None:
    params = dict(params)  # the parametrized dict is shared by both backends' runs
    products = await risky_catalog(admin_products_client)
    await admin_products_client.delete(f"{API}/products/{products[0]['id']}")
    if params.pop("category", False):
        params["category_id"] = products[-1]["category_id"]
    listed = (
        await admin_products_client.get(f"{API}/products", params={**params, "limit": 200})
    ).json()["items"]
    exported = csv_records(
        await admin_products_client.get(f"{API}/exports/products", params=params)
    )
    assert sorted(r["sku"] for r in exported) == sorted(i["sku"] for i in listed)
    by_sku = {item["sku"]: item for item in listed}
    for record in exported:
        item = by_sku[record["sku"]]
        assert record["price"] == item["price"]
        assert int(record["stock"]) == item["stock_on_hand"]


async def ledger(client: AsyncClient) -> list[dict[str, Any]]:
    """Two categories, three products, every product with a few movements."""
    first = (await create_category(client))["id"]
    second = (await create_category(client))["id"]
    ids = [
        (await create_product(client, category_id=category, initial_stock=10))["id"]
        for category in (first, first, second)
    ]
    for product_id in ids:
        assert (await adjust(client, product_id, delta=5, kind="restock")).status_code == 201
        assert (await adjust(client, product_id, delta=-2, kind="damage")).status_code == 201
    return [(await client.get(f"{API}/products/{i}")).json() for i in ids]


async def all_listed(client: AsyncClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page_params = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{API}/inventory/movements", params=page_params)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


@pytest.mark.parametrize(
    "params",
    [{}, {"kind": "restock"}, {"product": 1}, {"category": 0}, {"window": True}],
)
async def test_ledger_export_rows_are_the_list_items(
    admin_products_client: AsyncClient, params: dict[str, Any]
) -> None:
    params = dict(params)  # the parametrized dict is shared by both backends' runs
    products = await ledger(admin_products_client)
    if (index := params.pop("product", None)) is not None:
        params["product_id"] = products[index]["id"]
    if (index := params.pop("category", None)) is not None:
        params["category_id"] = products[index]["category_id"]
    if params.pop("window", False):
        now = datetime.now(UTC)
        params |= {
            "start": (now - timedelta(minutes=5)).isoformat(),
            "end": (now + timedelta(minutes=5)).isoformat(),
        }
    listed = await all_listed(admin_products_client, params)
    exported = csv_records(
        await admin_products_client.get(f"{API}/exports/inventory-movements", params=params)
    )
    assert listed, "the filters must match something"
    assert [int(r["id"]) for r in exported] == sorted(item["id"] for item in listed)
    by_id = {item["id"]: item for item in listed}
    skus = {p["id"]: p["sku"] for p in products}
    for record in exported:
        item = by_id[int(record["id"])]
        assert (record["kind"], int(record["delta"])) == (item["kind"], item["delta"])
        assert int(record["quantity_after"]) == item["quantity_after"]
        assert record["sku"] == skus[item["product_id"]]


async def test_ledger_export_streams_many_batches(
    admin_products_client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    product = await create_product(admin_products_client, initial_stock=1)
    for _ in range(30):
        await adjust(admin_products_client, product["id"], delta=1, kind="restock")
    monkeypatch.setattr(http, "BATCH_ROWS", 7)
    response = await admin_products_client.get(f"{API}/exports/inventory-movements")
    records = csv_records(response)
    assert [int(r["quantity_after"]) for r in records] == list(range(1, 32))


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("products", {"format": "pdf"}),
        ("products", {"category_id": "0"}),
        ("products", {"min_price": "abc"}),
        ("inventory-movements", {"kind": "theft"}),
        ("inventory-movements", {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}),
        ("inventory-movements", {"start": "yesterday"}),
        ("inventory-movements", {"product_id": str(2**40)}),
    ],
)
async def test_bad_export_parameters_are_422_problems(
    admin_products_client: AsyncClient, path: str, params: dict[str, str]
) -> None:
    response = await admin_products_client.get(f"{API}/exports/{path}", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] in ("validation_failed", "invalid_input")


@pytest.mark.parametrize("path", ["products", "inventory-movements"])
async def test_customers_may_not_export(
    settings: Settings, isolated_database: Database, path: str
) -> None:
    async for customer in client_for("products", settings, isolated_database, as_=Role.customer):
        response = await customer.get(f"{API}/exports/{path}")
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
