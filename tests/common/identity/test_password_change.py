"""Passwords people can change and cannot pick badly: the common-password blocklist, `POST
/auth/password` (current password required; the other sessions end), `POST /auth/logout-all`,
and an e-mail change that needs the current password (issue 13, the small ones)."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from common.config import Settings
from common.db import Database
from common.identity.password_policy import common_passwords, weakness
from common.models.identity import RefreshToken, Role, UserAccount
from common.ops.demo.options import DEMO_CUSTOMER_PASSWORD
from tests.fixtures.factories import PASSWORD, make_account, unique_email

NEW_PASSWORD = "a brand new passphrase"


async def sign_in(client: AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def auth(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.mark.parametrize("password", ["12345678", "password", " " * 8, "Password1", "aaaaaaaa"])
async def test_common_or_repetitive_passwords_are_refused_at_registration(
    sales_client: AsyncClient, password: str
) -> None:
    response = await sales_client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "password": password, "full_name": "Weak"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["pointer"] == "#/password"


def test_no_fixture_or_demo_password_is_on_the_blocklist() -> None:
    for password in (PASSWORD, NEW_PASSWORD, DEMO_CUSTOMER_PASSWORD, "long enough 1"):
        assert weakness(password) is None, password
    assert len(common_passwords()) > 200


async def test_password_change_needs_the_current_password_and_ends_other_sessions(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    here = await sign_in(sales_client, account.email)
    elsewhere = await sign_in(sales_client, account.email)
    wrong = await sales_client.post(
        "/auth/password",
        json={"current_password": "not the password", "new_password": NEW_PASSWORD},
        headers=auth(here),
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "wrong_password"
    changed = await sales_client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=auth(here),
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    # The session that changed it goes on with the tokens it got back...
    assert (await sales_client.get("/auth/me", headers=auth(fresh))).status_code == 200
    refreshed = await sales_client.post(
        "/auth/refresh", json={"refresh_token": fresh["refresh_token"]}
    )
    assert refreshed.status_code == 200
    # ...every other session is over, access and refresh tokens alike.
    for old in (here, elsewhere):
        assert (await sales_client.get("/auth/me", headers=auth(old))).status_code == 401
        again = await sales_client.post(
            "/auth/refresh", json={"refresh_token": old["refresh_token"]}
        )
        assert again.status_code == 401
    old_password = await sales_client.post(
        "/auth/token", data={"username": account.email, "password": PASSWORD}
    )
    assert old_password.status_code == 401
    await sign_in(sales_client, account.email, NEW_PASSWORD)


async def test_a_weak_new_password_is_refused_and_nothing_changes(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    tokens = await sign_in(sales_client, account.email)
    response = await sales_client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "qwerty123"},
        headers=auth(tokens),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/new_password"
    assert (await sales_client.get("/auth/me", headers=auth(tokens))).status_code == 200
    await sign_in(sales_client, account.email)


async def test_wrong_current_passwords_are_throttled_like_sign_ins(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    """A stolen access token is no faster a password oracle than `/auth/token`."""
    account = await make_account(isolated_database, settings)
    tokens = await sign_in(sales_client, account.email)
    statuses = [
        (
            await sales_client.post(
                "/auth/password",
                json={"current_password": f"guess number {n}", "new_password": NEW_PASSWORD},
                headers=auth(tokens),
            )
        ).status_code
        for n in range(settings.login_max_failures_per_pair + 1)
    ]
    assert statuses == [403] * settings.login_max_failures_per_pair + [429]


async def test_logout_all_ends_every_session_of_the_account_only(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    other = await make_account(isolated_database, settings)
    sessions = [await sign_in(sales_client, account.email) for _ in range(2)]
    bystander = await sign_in(sales_client, other.email)
    response = await sales_client.post("/auth/logout-all", headers=auth(sessions[0]))
    assert response.status_code == 204
    for tokens in sessions:
        assert (await sales_client.get("/auth/me", headers=auth(tokens))).status_code == 401
        refused = await sales_client.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refused.status_code == 401
    assert (await sales_client.get("/auth/me", headers=auth(bystander))).status_code == 200
    async with isolated_database.session_factory() as session:
        live = (
            await session.scalars(
                select(RefreshToken.id).where(
                    RefreshToken.user_id == account.id, RefreshToken.revoked_at.is_(None)
                )
            )
        ).all()
    assert live == []
    await sign_in(sales_client, account.email)


async def test_a_customer_changes_their_e_mail_only_with_their_password(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    tokens = await sign_in(sales_client, account.email)
    path = f"/api/v1/customers/{account.id}"
    new_email = unique_email("moved")
    missing = await sales_client.patch(path, json={"email": new_email}, headers=auth(tokens))
    assert missing.status_code == 422
    assert missing.json()["code"] == "current_password_required"
    wrong = await sales_client.patch(
        path, json={"email": new_email, "current_password": "not it at all"}, headers=auth(tokens)
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "wrong_password"
    async with isolated_database.session_factory() as session:
        unchanged = await session.get(UserAccount, account.id)
        assert unchanged is not None
        assert unchanged.email == account.email
    moved = await sales_client.patch(
        path, json={"email": new_email, "current_password": PASSWORD}, headers=auth(tokens)
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["email"] == new_email
    await sign_in(sales_client, new_email)


async def test_an_admin_changes_a_customers_e_mail_without_a_password(
    admin_sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings, role=Role.customer)
    new_email = unique_email("support")
    response = await admin_sales_client.patch(
        f"/api/v1/customers/{account.id}", json={"email": new_email}
    )
    assert response.status_code == 200, response.text
    assert response.json()["email"] == new_email
