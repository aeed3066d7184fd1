"""Sales-side exports: orders (a row per line), customers with their lifetime figures,
sales and wallet entries; each equal to its list for the same filters, formula cells
neutralized, bad input refused, customers kept out."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient, Response

from common.config import Settings
from common.db import Database
from common.models.identity import Role, UserAccount
from tests.fixtures.clients import client_for
from tests.fixtures.factories import Catalog, make_account, money

API = "/api/v1"


@dataclass
class Store:
    sales: AsyncClient
    alice: UserAccount  # one paid order, one pending; her name starts like a formula
    bob: UserAccount  # one paid order, then refunded
    widget: int
    gadget: int
    orders: dict[str, dict[str, Any]]


def records(response: Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def place(store_sales: AsyncClient, customer: UserAccount, *items: tuple[int, int]) -> Any:
    response = await store_sales.post(
        f"{API}/orders",
        json={
            "items": [{"product_id": p, "quantity": q} for p, q in items],
            "shipping_address": "1 Export Street",
            "customer_id": customer.id,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
async def store(
    settings: Settings,
    isolated_database: Database,
    admin_sales_client: AsyncClient,
    catalog: Catalog,
) -> Store:
    category = await catalog.category()
    widget = await catalog.product(category_id=category, price="10.00", stock=20)
    gadget = await catalog.product(category_id=category, price="2.50", stock=20)
    alice = await make_account(isolated_database, settings, balance=Decimal("100.00"))
    bob = await make_account(isolated_database, settings, balance=Decimal("50.00"))
    renamed = await admin_sales_client.patch(
        f"{API}/customers/{alice.id}", json={"full_name": "=Alice"}
    )
    assert renamed.status_code == 200, renamed.text
    sales = admin_sales_client
    paid = await place(sales, alice, (widget, 2), (gadget, 1))
    assert (await sales.post(f"{API}/orders/{paid['id']}/pay")).status_code == 200
    pending = await place(sales, alice, (gadget, 3))
    refunded = await place(sales, bob, (widget, 1))
    assert (await sales.post(f"{API}/orders/{refunded['id']}/pay")).status_code == 200
    cancel = await sales.post(f"{API}/orders/{refunded['id']}/cancel", json={"reason": "changed"})
    assert cancel.status_code == 200, cancel.text
    hand_sale = await sales.post(f"{API}/sales", json={"product_id": gadget, "quantity": 2})
    assert hand_sale.status_code == 201, hand_sale.text
    return Store(
        sales=sales,
        alice=alice,
        bob=bob,
        widget=widget,
        gadget=gadget,
        orders={"paid": paid, "pending": pending, "refunded": refunded},
    )


async def listed(client: AsyncClient, path: str, params: dict[str, Any]) -> list[Any]:
    response = await client.get(f"{API}{path}", params={**params, "limit": 200})
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


@pytest.mark.parametrize("params", [{}, {"status": "paid"}, {"status": "pending"}, {"alice": 1}])
async def test_order_export_is_a_row_per_line_of_the_listed_orders(
    store: Store, params: dict[str, Any]
) -> None:
    params = dict(params)
    if params.pop("alice", None):
        params["customer_id"] = store.alice.id
    orders = await listed(store.sales, "/orders", params)
    assert orders
    rows = records(await store.sales.get(f"{API}/exports/orders", params=params))
    expected = sorted(
        (order["id"], order["status"], money(order["total"]), line["product_id"], line["quantity"])
        for order in orders
        for line in order["items"]
    )
    exported = sorted(
        (
            int(row["order_id"]),
            row["status"],
            money(row["order_total"]),
            int(row["product_id"]),
            int(row["quantity"]),
        )
        for row in rows
    )
    assert exported == expected


async def test_order_rows_carry_the_customer_neutralized(store: Store) -> None:
    rows = records(
        await store.sales.get(f"{API}/exports/orders", params={"customer_id": store.alice.id})
    )
    assert {row["customer_name"] for row in rows} == {"'=Alice"}
    assert {row["customer_email"] for row in rows} == {store.alice.email}
    assert '"\'=Alice"' in (await store.sales.get(f"{API}/exports/orders")).text


@pytest.mark.parametrize("params", [{}, {"role": "customer"}, {"q": "alice"}, {"is_active": True}])
async def test_customer_export_rows_are_the_list_items(
    store: Store, params: dict[str, Any]
) -> None:
    params = dict(params)
    if params.get("q") == "alice":
        params["q"] = store.alice.email.split("@")[0]
    accounts = await listed(store.sales, "/customers", params)
    rows = records(await store.sales.get(f"{API}/exports/customers", params=params))
    assert [int(row["id"]) for row in rows] == sorted(a["id"] for a in accounts)
    by_id = {account["id"]: account for account in accounts}
    for row in rows:
        account = by_id[int(row["id"])]
        assert row["email"] == account["email"]
        assert money(row["wallet_balance"]) == money(account["wallet_balance"])


async def test_customer_export_has_the_lifetime_figures(store: Store) -> None:
    rows = {
        int(row["id"]): row for row in records(await store.sales.get(f"{API}/exports/customers"))
    }
    alice, bob = rows[store.alice.id], rows[store.bob.id]
    # Alice: one paid order (the pending one is not counted), the latest placed is pending.
    assert (int(alice["orders_count"]), money(alice["lifetime_spend"])) == (1, money("22.50"))
    assert alice["last_order_at"] == store.orders["pending"]["created_at"].replace("Z", "+00:00")
    assert alice["full_name"] == "'=Alice"
    # Bob: his order was paid and then refunded: counted, but he spent nothing.
    assert (int(bob["orders_count"]), money(bob["lifetime_spend"])) == (1, money("0.00"))


@pytest.mark.parametrize("params", [{}, {"order": "paid"}, {"product": "gadget"}])
async def test_sale_export_rows_are_the_list_items(store: Store, params: dict[str, Any]) -> None:
    params = dict(params)
    if params.pop("order", None):
        params["order_id"] = store.orders["paid"]["id"]
    if params.pop("product", None):
        params["product_id"] = store.gadget
    sales = await listed(store.sales, "/sales", params)
    assert sales
    rows = records(await store.sales.get(f"{API}/exports/sales", params=params))
    assert [int(row["id"]) for row in rows] == sorted(sale["id"] for sale in sales)
    by_id = {sale["id"]: sale for sale in sales}
    for row in rows:
        sale = by_id[int(row["id"])]
        assert (row["kind"], int(row["quantity"])) == (sale["kind"], sale["quantity"])
        assert money(row["revenue"]) == money(sale["revenue"])


async def test_wallet_export_rows_are_the_customer_ledger(store: Store) -> None:
    for customer in (store.alice, store.bob):
        response = await store.sales.get(
            f"{API}/customers/{customer.id}/wallet/entries", params={"limit": 200}
        )
        entries = response.json()["items"]
        rows = records(
            await store.sales.get(
                f"{API}/exports/wallet-entries", params={"customer_id": customer.id}
            )
        )
        assert [int(row["id"]) for row in rows] == sorted(entry["id"] for entry in entries)
        by_id = {entry["id"]: entry for entry in entries}
        for row in rows:
            entry = by_id[int(row["id"])]
            assert (row["kind"], money(row["amount"])) == (entry["kind"], money(entry["amount"]))
            assert money(row["balance_after"]) == money(entry["balance_after"])
    refunds = records(
        await store.sales.get(f"{API}/exports/wallet-entries", params={"kind": "refund"})
    )
    assert [(int(r["customer_id"]), money(r["amount"])) for r in refunds] == [
        (store.bob.id, money("10.00"))
    ]


@pytest.mark.parametrize("path", ["orders", "customers", "sales", "wallet-entries"])
async def test_every_sales_export_answers_xlsx(store: Store, path: str) -> None:
    response = await store.sales.get(f"{API}/exports/{path}", params={"format": "xlsx"})
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"PK")
    assert response.headers["content-disposition"].endswith('.xlsx"')


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("orders", {"status": "lost"}),
        ("orders", {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}),
        ("customers", {"role": "owner"}),
        ("customers", {"q": ""}),
        ("sales", {"product_id": "0"}),
        ("sales", {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}),
        ("wallet-entries", {"kind": "gift"}),
        ("wallet-entries", {"customer_id": str(2**40)}),
        ("wallet-entries", {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}),
        ("sales", {"format": "ods"}),
    ],
)
async def test_bad_export_parameters_are_422_problems(
    admin_sales_client: AsyncClient, path: str, params: dict[str, str]
) -> None:
    response = await admin_sales_client.get(f"{API}/exports/{path}", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"]


@pytest.mark.parametrize("path", ["orders", "customers", "sales", "wallet-entries"])
async def test_customers_may_not_export(
    settings: Settings, isolated_database: Database, path: str
) -> None:
    async for customer in client_for("sales", settings, isolated_database, as_=Role.customer):
        response = await customer.get(f"{API}/exports/{path}")
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
