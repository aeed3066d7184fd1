"""Registration and customer administration."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from common.config import Settings
from common.db import Database
from common.models.identity import Role, UserAccount
from sales_microservice.customers.service import has_open_orders
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.clients import serve
from tests.fixtures.factories import PASSWORD, bearer, make_account, unique_email

REGISTER = "/api/v1/auth/register"
CUSTOMERS = "/api/v1/customers"


def customer_url(account: UserAccount) -> str:
    return f"{CUSTOMERS}/{account.id}"


async def read_back(
    client: AsyncClient, account: UserAccount, settings: Settings
) -> dict[str, object]:
    admin_view = await client.get(customer_url(account), headers=bearer(account, settings))
    body: dict[str, object] = admin_view.json()
    return body


async def test_register_creates_a_customer_who_can_sign_in(sales_client: AsyncClient) -> None:
    email = unique_email("New")
    response = await sales_client.post(
        REGISTER,
        json={"email": f"  {email.upper()} ", "password": PASSWORD, "full_name": "Ada Lovelace"},
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["email"], body["role"], body["is_active"], body["wallet_balance"]) == (
        email.lower(),
        "customer",
        True,
        "0.00",
    )
    assert "password" not in body
    assert "password_hash" not in body
    login = await sales_client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert login.status_code == 200


async def test_register_with_a_taken_email_in_any_case_is_409(sales_client: AsyncClient) -> None:
    email = unique_email("taken")
    body = {"email": email, "password": PASSWORD, "full_name": "First"}
    assert (await sales_client.post(REGISTER, json=body)).status_code == 201
    again = await sales_client.post(REGISTER, json={**body, "email": email.upper()})
    assert again.status_code == 409
    assert again.json()["code"] == "email_exists"


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"password": "short"}, "#/password"),
        ({"email": "not-an-email"}, "#/email"),
        ({"full_name": "   "}, "#/full_name"),
        ({"phone": "call me"}, "#/phone"),
        ({"role": "admin"}, "#/role"),
    ],
)
async def test_register_rejects_bad_input_and_creates_nothing(
    change: dict[str, str],
    pointer: str,
    sales_client: AsyncClient,
    isolated_database: Database,
    settings: Settings,
) -> None:
    email = unique_email("bad")
    body = {"email": email, "password": PASSWORD, "full_name": "Bad Input", **change}
    response = await sales_client.post(REGISTER, json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == pointer
    admin = await make_account(isolated_database, settings, role=Role.admin)
    found = await sales_client.get(CUSTOMERS, params={"q": "bad-"}, headers=bearer(admin, settings))
    assert found.json()["total"] == 0


async def test_admin_lists_and_searches_with_pagination(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    admin = await make_account(isolated_database, settings, role=Role.admin)
    marker = unique_email("zed").split("@")[0]
    created = [
        await make_account(isolated_database, settings, email=f"{marker}.{n}@example.test")
        for n in range(3)
    ]
    headers = bearer(admin, settings)
    first = await sales_client.get(
        CUSTOMERS, params={"q": marker.upper(), "limit": 2}, headers=headers
    )
    second = await sales_client.get(
        CUSTOMERS, params={"q": marker, "limit": 2, "offset": 2}, headers=headers
    )
    assert (first.json()["total"], first.json()["limit"], first.json()["offset"]) == (3, 2, 0)
    ids = [item["id"] for item in first.json()["items"] + second.json()["items"]]
    assert ids == [account.id for account in created]
    admins = await sales_client.get(CUSTOMERS, params={"role": "admin"}, headers=headers)
    assert [item["id"] for item in admins.json()["items"]] == [admin.id]
    wildcard = await sales_client.get(CUSTOMERS, params={"q": "%"}, headers=headers)
    assert wildcard.json()["total"] == 0  # LIKE wildcards are matched literally


async def test_admin_creates_an_account(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    admin = await make_account(isolated_database, settings, role=Role.admin)
    email = unique_email("staff")
    response = await sales_client.post(
        CUSTOMERS,
        json={"email": email, "password": PASSWORD, "full_name": "Staff", "phone": "+44 20 7946"},
        headers=bearer(admin, settings),
    )
    assert response.status_code == 201
    assert (response.json()["email"], response.json()["phone"]) == (email, "+44 20 7946")
    duplicate = await sales_client.post(
        CUSTOMERS,
        json={"email": email, "password": PASSWORD, "full_name": "Staff"},
        headers=bearer(admin, settings),
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "email_exists"


async def test_customer_updates_own_profile(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    new_email = unique_email("moved")
    response = await sales_client.patch(
        customer_url(customer),
        json={
            "full_name": "New Name",
            "phone": "+1 555 0100",
            "email": new_email.upper(),
            # One's own e-mail changes only with the password (tests/common/identity/...).
            "current_password": PASSWORD,
        },
        headers=bearer(customer, settings),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["full_name"], body["phone"], body["email"]) == (
        "New Name",
        "+1 555 0100",
        new_email,
    )
    cleared = await sales_client.patch(
        customer_url(customer), json={"phone": None}, headers=bearer(customer, settings)
    )
    assert cleared.json()["phone"] is None


@pytest.mark.parametrize(
    "change", [{"role": "admin"}, {"is_active": False}, {"wallet_balance": "1000.00"}]
)
async def test_customer_cannot_change_role_status_or_balance(
    change: dict[str, object],
    sales_client: AsyncClient,
    isolated_database: Database,
    settings: Settings,
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("1.00"))
    before = await read_back(sales_client, customer, settings)
    response = await sales_client.patch(
        customer_url(customer), json=change, headers=bearer(customer, settings)
    )
    assert response.status_code in (403, 422)
    if response.status_code == 403:
        assert response.json()["code"] == "field_not_allowed"
    else:
        assert response.json()["errors"][0]["pointer"] == "#/wallet_balance"
    assert await read_back(sales_client, customer, settings) == before


async def test_patch_to_a_taken_email_is_409_and_null_name_is_422(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    other = await make_account(isolated_database, settings)
    headers = bearer(customer, settings)
    taken = await sales_client.patch(
        customer_url(customer),
        json={"email": other.email, "current_password": PASSWORD},
        headers=headers,
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "email_exists"
    nulled = await sales_client.patch(
        customer_url(customer), json={"full_name": None}, headers=headers
    )
    assert nulled.status_code == 422
    assert (await read_back(sales_client, customer, settings))["email"] == customer.email


async def test_admin_promotes_and_a_missing_customer_is_404(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    admin = await make_account(isolated_database, settings, role=Role.admin)
    customer = await make_account(isolated_database, settings)
    headers = bearer(admin, settings)
    promoted = await sales_client.patch(
        customer_url(customer), json={"role": "admin"}, headers=headers
    )
    assert promoted.json()["role"] == "admin"
    missing = f"{CUSTOMERS}/{customer.id + 1000}"
    for method in ("GET", "PATCH", "DELETE"):
        response = await sales_client.request(
            method, missing, json={"full_name": "x"} if method == "PATCH" else None, headers=headers
        )
        assert response.status_code == 404, method
        assert response.json()["code"] == "account_not_found"


async def test_deactivation_keeps_records_and_locks_the_account_out(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    admin = await make_account(isolated_database, settings, role=Role.admin)
    customer = await make_account(isolated_database, settings)
    refresh = (
        await sales_client.post(
            "/auth/token", data={"username": customer.email, "password": PASSWORD}
        )
    ).json()["refresh_token"]
    response = await sales_client.delete(customer_url(customer), headers=bearer(admin, settings))
    assert response.status_code == 204
    kept = await sales_client.get(customer_url(customer), headers=bearer(admin, settings))
    assert (kept.json()["id"], kept.json()["is_active"]) == (customer.id, False)
    me = await sales_client.get("/auth/me", headers=bearer(customer, settings))
    assert me.json()["code"] == "account_disabled"
    refreshed = await sales_client.post("/auth/refresh", json={"refresh_token": refresh})
    assert refreshed.status_code == 401
    again = await sales_client.delete(customer_url(customer), headers=bearer(admin, settings))
    assert again.status_code == 204


async def test_deactivating_a_customer_with_money_is_409(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    admin = await make_account(isolated_database, settings, role=Role.admin)
    customer = await make_account(isolated_database, settings, balance=Decimal("0.01"))
    for request in (
        sales_client.delete(customer_url(customer), headers=bearer(admin, settings)),
        sales_client.patch(
            customer_url(customer), json={"is_active": False}, headers=bearer(admin, settings)
        ),
    ):
        response = await request
        assert response.status_code == 409
        assert (response.json()["code"], response.json()["balance"]) == ("balance_not_zero", "0.01")
    assert (await read_back(sales_client, customer, settings))["is_active"] is True


async def test_no_customer_has_open_orders_until_orders_exist(
    isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    async with isolated_database.session_factory() as session:
        assert await has_open_orders(session, customer.id) is False


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    first = await make_account(isolated_database, settings, role=Role.admin)
    as_first = bearer(first, settings)
    for request in (
        sales_client.patch(customer_url(first), json={"role": "customer"}, headers=as_first),
        sales_client.patch(customer_url(first), json={"is_active": False}, headers=as_first),
        sales_client.delete(customer_url(first), headers=as_first),
    ):
        response = await request
        assert response.status_code == 409
        assert response.json()["code"] == "last_admin"
    assert (await read_back(sales_client, first, settings))["role"] == "admin"

    # With a second admin, the first may step down; then the second is the last one.
    second = await make_account(isolated_database, settings, role=Role.admin)
    stepped_down = await sales_client.patch(
        customer_url(first), json={"role": "customer"}, headers=as_first
    )
    assert (stepped_down.status_code, stepped_down.json()["role"]) == (200, "customer")
    as_second = bearer(second, settings)
    refused = await sales_client.delete(customer_url(second), headers=as_second)
    assert refused.json()["code"] == "last_admin"
    # An inactive admin does not count, and other changes to the last admin still work.
    renamed = await sales_client.patch(
        customer_url(second), json={"full_name": "Still In Charge"}, headers=as_second
    )
    assert renamed.status_code == 200
    assert (await sales_client.delete(customer_url(first), headers=as_second)).status_code == 204


@pytest.mark.mysql_only
async def test_admins_removing_each_other_at_once_leave_one(
    settings: Settings, committed_database: Database
) -> None:
    admins = [await make_account(committed_database, settings, role=Role.admin) for _ in range(4)]
    app = build_sales_app(settings=settings, database=committed_database)
    async for client in serve(app, "http://sales.test"):
        # Every admin demotes or deactivates the next one, all at the same time.
        responses = await asyncio.gather(
            *(
                client.patch(
                    customer_url(admins[(index + 1) % len(admins)]),
                    json={"role": "customer"} if index % 2 else {"is_active": False},
                    headers=bearer(admin, settings),
                )
                for index, admin in enumerate(admins)
            )
        )
    refused = [r for r in responses if r.status_code == 409]
    assert {r.json()["code"] for r in refused} <= {"last_admin"}
    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
    async with committed_database.session_factory() as session:
        active_admins = await session.scalar(
            select(func.count()).where(UserAccount.role == "admin", UserAccount.is_active)
        )
    assert active_admins >= 1
    assert active_admins == len(admins) - (len(responses) - len(refused))
