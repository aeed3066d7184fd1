"""Access tokens end with the sign-in: refused after logout, after a refresh family is revoked
for reuse, after sign-out everywhere and across deactivate/reactivate, through the account's
`tokens_valid_after`, read by the one account lookup each request already makes. And a token's
`sub` is an id that can exist or the token is 401 (issue 13, the small ones)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pytest
from httpx import AsyncClient
from sqlalchemy import event, update

from common.config import Settings
from common.db import Database, utcnow
from common.identity.tokens import create_access_token
from common.models.identity import UserAccount
from tests.fixtures.factories import PASSWORD, make_account


async def sign_in(client: AsyncClient, email: str) -> dict[str, Any]:
    response = await client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def me(client: AsyncClient, access_token: str) -> int:
    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {access_token}"})
    if response.status_code == 401:
        assert response.json()["code"] in ("invalid_token", "account_disabled")
        assert response.headers["www-authenticate"].startswith("Bearer")
    return response.status_code


async def test_access_token_is_refused_after_logout(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    tokens = await sign_in(sales_client, account.email)
    assert await me(sales_client, tokens["access_token"]) == 200
    logout = await sales_client.post(
        "/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert logout.status_code == 204
    assert await me(sales_client, tokens["access_token"]) == 401
    # Signing in again, in the same second, gives a token that works at once.
    again = await sign_in(sales_client, account.email)
    assert await me(sales_client, again["access_token"]) == 200


async def test_access_token_is_refused_once_its_refresh_family_is_revoked(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    first = await sign_in(sales_client, account.email)
    rotated = await sales_client.post(
        "/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    successor = rotated.json()
    assert await me(sales_client, successor["access_token"]) == 200
    # The rotated token comes back: someone holds a copy, the family is revoked.
    reuse = await sales_client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert await me(sales_client, successor["access_token"]) == 401
    assert await me(sales_client, first["access_token"]) == 401


async def test_old_access_tokens_stay_dead_across_deactivate_and_reactivate(
    admin_sales_client: AsyncClient, sales_client: AsyncClient, isolated_database: Database,
    settings: Settings,
) -> None:  # fmt: skip
    account = await make_account(isolated_database, settings)
    tokens = await sign_in(sales_client, account.email)
    path = f"/api/v1/customers/{account.id}"
    assert (await admin_sales_client.delete(path)).status_code == 204
    assert await me(sales_client, tokens["access_token"]) == 401
    reactivated = await admin_sales_client.patch(path, json={"is_active": True})
    assert reactivated.status_code == 200
    assert await me(sales_client, tokens["access_token"]) == 401
    assert (
        await me(sales_client, (await sign_in(sales_client, account.email))["access_token"]) == 200
    )


async def test_a_token_issued_just_before_the_instant_is_refused_and_one_at_it_accepted(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    """Microseconds, not seconds, decide: a whole-second `iat` would let a token issued in
    the same second as a sign-out live on."""
    account = await make_account(isolated_database, settings)
    now = utcnow().replace(microsecond=500_000)
    async with isolated_database.session_factory() as session:
        await session.execute(
            update(UserAccount).where(UserAccount.id == account.id).values(tokens_valid_after=now)
        )
        await session.commit()
    before = now.replace(microsecond=499_999)
    for issued_at, expected in ((before, 401), (now, 200)):
        token = create_access_token(
            user_id=account.id, role=account.role, settings=settings, now=issued_at
        )
        assert await me(sales_client, token.token) == expected


@contextmanager
def statements_on(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def test_the_check_costs_no_extra_query(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    token = create_access_token(user_id=account.id, role=account.role, settings=settings)
    with statements_on(isolated_database) as seen:
        assert await me(sales_client, token.token) == 200
    reads = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]
    # One lookup for the caller (with `tokens_valid_after`), one for `/auth/me`'s own read.
    assert len(reads) == 2
    assert "tokens_valid_after" in reads[0]


@pytest.mark.parametrize(
    "subject",
    ["\u0664\u0662", "\uff14\uff12", "0", "042", "+42", " 42", "2147483648", "9" * 30, "4.2"],
)
async def test_a_subject_that_is_not_an_ascii_id_is_401(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings, subject: str
) -> None:
    account = await make_account(isolated_database, settings, email=None)
    valid = create_access_token(user_id=account.id, role=account.role, settings=settings).token
    secret = settings.jwt_secret.get_secret_value()
    claims = jwt.decode(valid, secret, algorithms=["HS256"])
    forged = jwt.encode({**claims, "sub": subject}, secret, algorithm="HS256")
    response = await sales_client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
