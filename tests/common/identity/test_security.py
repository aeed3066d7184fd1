"""Passwords, access tokens, sign-in, refresh rotation and reuse detection, logout, throttling."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select, update

from common.config import Settings
from common.db import Database, utcnow
from common.db.unit_of_work import UnitOfWork
from common.identity.accounts import InvalidCredentials, TooManyLoginAttempts, login
from common.identity.passwords import hash_password, password_hasher, verify_password
from common.identity.tokens import create_access_token, decode_access_token
from common.models.identity import LoginThrottle, RefreshToken, Role, UserAccount
from tests.fixtures.databases import TEST_JWT_SECRET
from tests.fixtures.factories import PASSWORD, bearer, make_account, unique_email

PROBLEM = "application/problem+json"


async def sign_in(client: AsyncClient, email: str, password: str = PASSWORD) -> Response:
    return await client.post("/auth/token", data={"username": email, "password": password})


def assert_unauthenticated(response: Response, code: str) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == code


async def deactivate(database: Database, account: UserAccount) -> None:
    async with database.session_factory() as session:
        await session.execute(
            update(UserAccount).where(UserAccount.id == account.id).values(is_active=False)
        )
        await session.commit()


# --- passwords ---------------------------------------------------------------------------------


async def test_password_hash_is_argon2id_and_verifies(settings: Settings) -> None:
    stored = await hash_password("s3cret-words", settings)
    assert stored.startswith("$argon2id$")
    assert (await verify_password(stored, "s3cret-words", settings)).valid
    assert not (await verify_password(stored, "s3cret-wordz", settings)).valid


async def test_hash_with_old_parameters_is_upgraded_on_verify(settings: Settings) -> None:
    weaker = settings.model_copy(update={"password_hash_time_cost": 2})
    stored = await hash_password("s3cret-words", weaker)
    check = await verify_password(stored, "s3cret-words", settings)
    assert check.valid
    assert check.upgraded_hash is not None
    assert not password_hasher(settings).check_needs_rehash(check.upgraded_hash)


def test_production_defaults_are_rfc_9106_low_memory() -> None:
    defaults = Settings(_env_file=None, jwt_secret=TEST_JWT_SECRET)  # type: ignore[call-arg]
    hasher = password_hasher(defaults)
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)


# --- access tokens -----------------------------------------------------------------------------


def test_access_token_carries_the_documented_claims(settings: Settings) -> None:
    now = utcnow()
    token = create_access_token(user_id=42, role="customer", settings=settings, now=now)
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["sub"] == "42"
    assert claims["role"] == "customer"
    assert claims["type"] == "access"
    assert claims["exp"] - int(claims["iat"]) == 15 * 60 == token.expires_in
    # Issued-at to the microsecond: what a sign-out's `tokens_valid_after` is compared with.
    assert claims["iat"] == round(now.timestamp(), 6)
    assert len(claims["jti"]) == 32
    decoded = decode_access_token(token.token, settings)
    assert (decoded.user_id, decoded.issued_at) == (42, now)


async def test_me_returns_the_signed_in_account(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    response = await sales_client.get("/auth/me", headers=bearer(account, settings))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["email"], body["role"]) == (account.id, account.email, "customer")
    assert "password_hash" not in body


async def test_missing_token_is_401_with_www_authenticate(products_client: AsyncClient) -> None:
    assert_unauthenticated(await products_client.get("/auth/me"), "unauthenticated")


async def test_expired_token_is_401(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    past = utcnow() - timedelta(minutes=16)
    expired = create_access_token(user_id=account.id, role="customer", settings=settings, now=past)
    response = await sales_client.get(
        "/auth/me", headers={"Authorization": f"Bearer {expired.token}"}
    )
    assert_unauthenticated(response, "invalid_token")
    assert "expired" in response.json()["detail"]


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_tampered_tokens_are_401(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    admin = await make_account(isolated_database, settings, role=Role.admin)
    good = create_access_token(user_id=customer.id, role="customer", settings=settings).token
    header, _, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    now = int(utcnow().timestamp())
    forged = {
        "other key": jwt.encode(claims, "x" * 40, algorithm="HS256"),
        "payload swapped": f"{header}.{_b64({**claims, 'sub': str(admin.id)})}.{signature}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**claims, 'exp': now + 60})}.",
        "wrong type": jwt.encode(
            {**claims, "type": "refresh"}, settings.jwt_secret.get_secret_value(), "HS256"
        ),
        "no exp": jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"},
            settings.jwt_secret.get_secret_value(),
            "HS256",
        ),
        "garbage": "not-a-jwt",
    }
    for name, token in forged.items():
        response = await sales_client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json()["code"] == "invalid_token", name
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"', name


async def test_disabled_account_is_401_even_with_a_valid_token(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    headers = bearer(account, settings)
    assert (await sales_client.get("/auth/me", headers=headers)).status_code == 200
    await deactivate(isolated_database, account)
    assert_unauthenticated(await sales_client.get("/auth/me", headers=headers), "account_disabled")


async def test_demoted_admin_loses_admin_routes_on_the_next_request(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = bearer(admin, settings)
    assert (await sales_client.get("/api/v1/customers", headers=headers)).status_code == 200
    async with isolated_database.session_factory() as session:
        await session.execute(
            update(UserAccount).where(UserAccount.id == admin.id).values(role="customer")
        )
        await session.commit()
    response = await sales_client.get("/api/v1/customers", headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


# --- sign-in -----------------------------------------------------------------------------------


async def test_sign_in_returns_working_tokens_on_both_services(
    sales_client: AsyncClient,
    products_client: AsyncClient,
    isolated_database: Database,
    settings: Settings,
) -> None:
    account = await make_account(isolated_database, settings)
    for client in (sales_client, products_client):
        response = await sign_in(client, account.email.upper())
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 900
        assert body["refresh_expires_in"] == 30 * 24 * 3600
        me = await client.get(
            "/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.json()["id"] == account.id


async def test_unknown_email_and_wrong_password_look_the_same(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    wrong_password = await sign_in(sales_client, account.email, "not the password")
    unknown_email = await sign_in(sales_client, unique_email("ghost"))
    for response in (wrong_password, unknown_email):
        assert_unauthenticated(response, "invalid_credentials")
    strip = ("instance", "request_id")
    assert {k: v for k, v in wrong_password.json().items() if k not in strip} == {
        k: v for k, v in unknown_email.json().items() if k not in strip
    }


async def test_disabled_account_cannot_sign_in(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings, is_active=False)
    assert_unauthenticated(await sign_in(sales_client, account.email), "account_disabled")


async def test_sign_in_without_form_fields_is_422(sales_client: AsyncClient) -> None:
    response = await sales_client.post("/auth/token", data={"username": "a@b.test"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/password"


# --- throttling --------------------------------------------------------------------------------


async def test_failed_logins_are_throttled_per_account_and_address(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    limit = settings.login_max_failures_per_pair
    for _ in range(limit):
        assert (await sign_in(sales_client, account.email, "wrong-password")).status_code == 401
    blocked = await sign_in(sales_client, account.email)  # even the right password waits
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_login_attempts"
    retry_after = int(blocked.headers["retry-after"])
    assert 0 < retry_after <= settings.login_failure_window_seconds
    assert blocked.json()["retry_after"] == retry_after


async def test_unknown_email_is_throttled_like_a_real_one(
    sales_client: AsyncClient, settings: Settings
) -> None:
    ghost = unique_email("ghost")
    statuses = [
        (await sign_in(sales_client, ghost)).status_code
        for _ in range(settings.login_max_failures_per_pair + 1)
    ]
    assert statuses == [401] * settings.login_max_failures_per_pair + [429]


async def test_failed_logins_are_throttled_per_address(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    limit = settings.login_max_failures_per_address
    for _ in range(limit):
        # A new e-mail each time: only the address counter can stop this.
        assert (await sign_in(sales_client, unique_email("spray"))).status_code == 401
    blocked = await sign_in(sales_client, account.email)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_success_resets_the_pair_counter(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    limit = settings.login_max_failures_per_pair
    for _ in range(limit - 1):
        await sign_in(sales_client, account.email, "wrong-password")
    assert (await sign_in(sales_client, account.email)).status_code == 200
    for _ in range(limit - 1):
        assert (await sign_in(sales_client, account.email, "wrong-password")).status_code == 401
    assert (await sign_in(sales_client, account.email)).status_code == 200


async def test_throttle_window_expires(isolated_database: Database, settings: Settings) -> None:
    account = await make_account(isolated_database, settings)
    uow = UnitOfWork(isolated_database)
    strict = settings.model_copy(update={"login_max_failures_per_pair": 1})
    with pytest.raises(InvalidCredentials):
        await login(uow, email=account.email, password="nope", address="10.0.0.1", settings=strict)
    with pytest.raises(TooManyLoginAttempts):
        await login(
            uow, email=account.email, password=PASSWORD, address="10.0.0.1", settings=strict
        )
    async with isolated_database.session_factory() as session:
        # Move the window into the past instead of waiting for it.
        await session.execute(
            update(LoginThrottle).values(
                window_started_at=utcnow() - timedelta(seconds=strict.login_failure_window_seconds)
            )
        )
        await session.commit()
    tokens = await login(
        uow, email=account.email, password=PASSWORD, address="10.0.0.1", settings=strict
    )
    assert tokens.access_token


# --- refresh and logout ------------------------------------------------------------------------


async def test_refresh_rotates_and_the_old_token_stops_working(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    first = (await sign_in(sales_client, account.email)).json()
    rotated = await sales_client.post(
        "/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    me = await sales_client.get(
        "/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert me.json()["id"] == account.id
    third = await sales_client.post(
        "/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert third.status_code == 200


async def test_reusing_a_rotated_token_revokes_the_whole_family(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    first = (await sign_in(sales_client, account.email)).json()["refresh_token"]
    second = (await sales_client.post("/auth/refresh", json={"refresh_token": first})).json()
    other_login = (await sign_in(sales_client, account.email)).json()["refresh_token"]

    reuse = await sales_client.post("/auth/refresh", json={"refresh_token": first})
    assert_unauthenticated(reuse, "invalid_refresh_token")
    # The thief's copy is dead, and so is the legitimate successor...
    successor = await sales_client.post(
        "/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert_unauthenticated(successor, "invalid_refresh_token")
    # ...but another sign-in of the same account is another family and keeps working.
    assert (
        await sales_client.post("/auth/refresh", json={"refresh_token": other_login})
    ).status_code == 200
    async with isolated_database.session_factory() as session:
        tokens = (
            await session.scalars(select(RefreshToken).where(RefreshToken.user_id == account.id))
        ).all()
    families = {token.family_id for token in tokens}
    assert len(families) == 2
    live = [token for token in tokens if token.revoked_at is None]
    assert len(live) == 1  # only the rotated token of the other sign-in


async def test_logout_revokes_the_refresh_token(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    refresh = (await sign_in(sales_client, account.email)).json()["refresh_token"]
    logout = await sales_client.post("/auth/logout", json={"refresh_token": refresh})
    assert logout.status_code == 204
    assert logout.content == b""
    again = await sales_client.post("/auth/logout", json={"refresh_token": refresh})
    assert again.status_code == 204
    refused = await sales_client.post("/auth/refresh", json={"refresh_token": refresh})
    assert_unauthenticated(refused, "invalid_refresh_token")


async def test_expired_or_unknown_refresh_token_is_401(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    refresh = (await sign_in(sales_client, account.email)).json()["refresh_token"]
    async with isolated_database.session_factory() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == account.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    for token in (refresh, "never-issued"):
        response = await sales_client.post("/auth/refresh", json={"refresh_token": token})
        assert_unauthenticated(response, "invalid_refresh_token")


async def test_refresh_of_a_disabled_account_is_401(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    refresh = (await sign_in(sales_client, account.email)).json()["refresh_token"]
    await deactivate(isolated_database, account)
    response = await sales_client.post("/auth/refresh", json={"refresh_token": refresh})
    assert_unauthenticated(response, "invalid_refresh_token")
