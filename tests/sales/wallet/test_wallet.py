"""Wallet routes: balance, ledger, top-ups, debits, and every refusal leaving money untouched."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient

from common.config import Settings
from common.db import Database
from common.models.identity import Role, UserAccount
from common.wallet.service import reconcile_wallets
from tests.fixtures.factories import bearer, make_account


def wallet_url(account: UserAccount, tail: str = "") -> str:
    return f"/api/v1/customers/{account.id}/wallet{tail}"


async def wallet_state(
    client: AsyncClient, account: UserAccount, headers: dict[str, str]
) -> tuple[str, int]:
    wallet = (await client.get(wallet_url(account), headers=headers)).json()
    return wallet["balance"], len(wallet["entries"])


async def test_admin_store_credit_adds_money_an_entry_and_a_top_up(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    admin = await make_account(isolated_database, settings, role=Role.admin)
    response = await sales_client.post(
        wallet_url(customer, "/top-ups"),
        json={"amount": "15.50", "note": "birthday"},
        headers=bearer(admin, settings),
    )
    assert response.status_code == 201
    credit = response.json()
    assert (credit["provider"], credit["status"], credit["amount"]) == (
        "store_credit",
        "succeeded",
        "15.50",
    )
    assert (credit["actor_id"], credit["note"], credit["customer_id"]) == (
        admin.id,
        "birthday",
        customer.id,
    )
    headers = bearer(customer, settings)
    wallet = (await sales_client.get(wallet_url(customer), headers=headers)).json()
    assert wallet["customer_id"] == customer.id
    assert wallet["balance"] == "25.50"
    entry = wallet["entries"][0]
    assert (entry["id"], entry["kind"], entry["amount"], entry["balance_after"]) == (
        credit["wallet_entry_id"],
        "top_up",
        "15.50",
        "25.50",
    )
    assert (entry["actor_id"], entry["note"], entry["reference"]) == (
        admin.id,
        "birthday",
        f"top_up:{credit['id']}",
    )
    listed = (await sales_client.get(wallet_url(customer, "/top-ups"), headers=headers)).json()
    assert (listed["total"], [t["id"] for t in listed["items"]]) == (1, [credit["id"]])


async def test_store_credit_without_a_note_is_422_and_changes_nothing(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = bearer(admin, settings)
    for body in ({"amount": "1.00"}, {"amount": "1.00", "note": "  "}):
        response = await sales_client.post(
            wallet_url(customer, "/top-ups"), json=body, headers=headers
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] in ("note_required", "validation_failed")
    assert await wallet_state(sales_client, customer, headers) == ("10.00", 1)


async def test_admin_debit_takes_money_with_its_reason(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    admin = await make_account(isolated_database, settings, role=Role.admin)
    response = await sales_client.post(
        wallet_url(customer, "/debits"),
        json={"amount": "10.00", "reason": "chargeback"},
        headers=bearer(admin, settings),
    )
    assert response.status_code == 201
    entry = response.json()
    assert (entry["kind"], entry["amount"], entry["balance_after"]) == ("debit", "-10.00", "0.00")
    assert (entry["actor_id"], entry["note"]) == (admin.id, "chargeback")


async def test_debit_beyond_the_balance_is_409_and_changes_nothing(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = bearer(admin, settings)
    response = await sales_client.post(
        wallet_url(customer, "/debits"), json={"amount": "10.01", "reason": "x"}, headers=headers
    )
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["balance"], body["requested"]) == (
        "insufficient_funds",
        "10.00",
        "10.01",
    )
    assert await wallet_state(sales_client, customer, headers) == ("10.00", 1)


BAD_AMOUNTS: list[Any] = [
    "0",
    "-5.00",
    "0.001",
    "10.005",
    "100000.01",
    "1e6",
    "NaN",
    "abc",
    None,
    # Read by Python's Decimal, but not what the documented pattern allows.
    "1E2",
    "1_000",
    "\uff15",  # a full-width 5
    " 5 ",
    "+5",
    "05.00",
    "5.",
    ".5",
]


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
async def test_bad_amounts_are_422_and_change_nothing(
    amount: Any, sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = bearer(admin, settings)
    for tail, extra in (("/top-ups", {"note": "x"}), ("/debits", {"reason": "x"})):
        response = await sales_client.post(
            wallet_url(customer, tail), json={"amount": amount, **extra}, headers=headers
        )
        assert response.status_code == 422, (tail, amount)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["pointer"] == "#/amount"
    assert await wallet_state(sales_client, customer, headers) == ("10.00", 1)


async def test_debit_without_reason_or_with_unknown_fields_is_422(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = bearer(admin, settings)
    for body in ({"amount": "1.00"}, {"amount": "1.00", "reason": "  "}):
        response = await sales_client.post(
            wallet_url(customer, "/debits"), json=body, headers=headers
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["pointer"] == "#/reason"
    smuggled = await sales_client.post(
        wallet_url(customer, "/top-ups"),
        json={"amount": "1.00", "balance_after": "999.00"},
        headers=headers,
    )
    assert smuggled.status_code == 422
    assert await wallet_state(sales_client, customer, headers) == ("10.00", 1)


async def test_wallet_of_a_missing_customer_is_404(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = bearer(admin, settings)
    missing = f"/api/v1/customers/{admin.id + 1000}/wallet"
    for method, tail, body in (
        ("GET", "", None),
        ("GET", "/entries", None),
        ("GET", "/top-ups", None),
        ("POST", "/top-ups", {"amount": "1.00", "note": "x"}),
        ("POST", "/debits", {"amount": "1.00", "reason": "x"}),
    ):
        response = await sales_client.request(method, missing + tail, json=body, headers=headers)
        assert response.status_code == 404, tail
        assert response.json()["code"] == "account_not_found"


async def test_top_up_of_a_deactivated_account_is_409(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, is_active=False)
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = bearer(admin, settings)
    response = await sales_client.post(
        wallet_url(customer, "/top-ups"), json={"amount": "1.00", "note": "x"}, headers=headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "account_inactive"
    assert await wallet_state(sales_client, customer, headers) == ("0.00", 0)


async def test_balance_cannot_exceed_the_column_limit(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("9999999999.00"))
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = bearer(admin, settings)
    response = await sales_client.post(
        wallet_url(customer, "/top-ups"), json={"amount": "1.00", "note": "x"}, headers=headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "balance_limit_exceeded"
    assert await wallet_state(sales_client, customer, headers) == ("9999999999.00", 1)


async def test_entries_page_newest_first_with_a_cursor(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    headers = bearer(customer, settings)
    admin = bearer(await make_account(isolated_database, settings, role=Role.admin), settings)
    for cents in range(1, 6):
        await sales_client.post(
            wallet_url(customer, "/top-ups"),
            json={"amount": f"0.0{cents}", "note": "x"},
            headers=admin,
        )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (
            await sales_client.get(wallet_url(customer, "/entries"), params=params, headers=headers)
        ).json()
        seen += [entry["amount"] for entry in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["0.05", "0.04", "0.03", "0.02", "0.01"]


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = [
    "nope",
    _cursor("k1:0"),
    _cursor("k1:-5"),
    _cursor("k1:+5"),
    _cursor("k1: 5"),
    _cursor("k1:5_0"),
    _cursor("k1:\u0663"),  # an Arabic-Indic 3: `int()` reads it as 3
    _cursor("k1:\uff15"),  # a full-width 5
    _cursor(f"k1:{2**31}"),  # past INT
    _cursor(f"k1:{2**63 + 1}"),  # past SQLite's 64-bit integers: was a 500
    _cursor("k1:" + "9" * 11),
    _cursor("k2:5"),
    base64.urlsafe_b64encode(b"k1:\xff").decode(),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_cursor_this_api_did_not_issue_is_422(
    cursor: str, sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("1.00"))
    response = await sales_client.get(
        wallet_url(customer, "/entries"),
        params={"cursor": cursor},
        headers=bearer(customer, settings),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_cursor"


async def test_the_largest_id_is_a_valid_cursor(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("1.00"))
    response = await sales_client.get(
        wallet_url(customer, "/entries"),
        params={"cursor": _cursor(f"k1:{2**31 - 1}")},
        headers=bearer(customer, settings),
    )
    assert response.status_code == 200
    assert [entry["amount"] for entry in response.json()["items"]] == ["1.00"]


async def test_ledger_reconciles_after_mixed_operations(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("0.30"))
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = bearer(admin, settings)
    # 0.30 - 0.10 - 0.20 is not exactly zero in binary floating point (SQLite's storage).
    for amount in ("0.10", "0.20"):
        response = await sales_client.post(
            wallet_url(customer, "/debits"), json={"amount": amount, "reason": "x"}, headers=headers
        )
        assert response.status_code == 201
    assert await wallet_state(sales_client, customer, headers) == ("0.00", 3)
    async with isolated_database.session_factory() as session:
        assert await reconcile_wallets(session, user_ids=[customer.id]) == []
