"""Sign-in throttling as an attacker meets it: collation variants of an address, lock-out from
many addresses, the pair, address and account ceilings, and the canonical `email_key`.

Issue 13's attacks 2 (throttle bypass through accent variants on MySQL) and 3 (lock-out on
demand from six addresses) are replayed here; the first runs on MariaDB too, where the
`email` column compares accent-insensitively.
"""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from common.config import Settings
from common.db import Database
from common.db.unit_of_work import UnitOfWork
from common.identity.accounts import (
    InvalidCredentials,
    TooManyLoginAttempts,
    find_account_by_email,
    login,
)
from common.identity.schemas import email_key
from common.models.identity import LoginThrottle, UserAccount
from tests.fixtures.factories import PASSWORD, make_account, unique_email

WRONG = "not the password"


async def sign_in(client: AsyncClient, email: str, password: str = PASSWORD) -> int:
    response = await client.post("/auth/token", data={"username": email, "password": password})
    if response.status_code == 200:
        assert response.json()["access_token"]
    return response.status_code


async def attempt(
    uow: UnitOfWork, settings: Settings, email: str, password: str, address: str
) -> str:
    """How one sign-in from `address` ends: "ok", "wrong" (401) or "throttled" (429)."""
    try:
        await login(uow, email=email, password=password, address=address, settings=settings)
    except InvalidCredentials:
        return "wrong"
    except TooManyLoginAttempts:
        return "throttled"
    return "ok"


def test_email_key_folds_case_and_compatibility_forms_only() -> None:
    assert email_key(" Victim@Example.COM ") == "victim@example.com"
    assert email_key("ｖｉｃｔｉｍ@example.com") == "victim@example.com"  # noqa: RUF001
    assert email_key("STRASSE@example.com") == email_key("straße@example.com")
    # Accents are letters of their own: another address, another key.
    assert email_key("victìm@example.com") != "victim@example.com"


async def test_accent_variant_after_lock_out_reaches_no_account(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    """Attack 2: on MySQL `victìm@…` used to find `victim@…` through the accent-insensitive
    collation, unthrottled, and sign in with the right password."""
    victim = await make_account(isolated_database, settings, email="victim@example.com")
    for _ in range(settings.login_max_failures_per_pair):
        assert await sign_in(sales_client, victim.email, WRONG) == 401
    assert await sign_in(sales_client, victim.email) == 429
    for variant in ("victìm@example.com", "vîctim@example.com", "VICTÍM@example.com"):
        assert await sign_in(sales_client, variant) == 401
    async with isolated_database.session_factory() as session:
        assert await find_account_by_email(session, "victìm@example.com") is None
        found = await find_account_by_email(session, "VICTIM@EXAMPLE.COM")
        assert found is not None
        assert found.id == victim.id


async def test_accent_variant_registers_as_its_own_address(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    """Two addresses that differ by an accent are two mailboxes, on every backend; the same
    address in another case is the same account."""
    await make_account(isolated_database, settings, email="renee@example.com")
    other = await sales_client.post(
        "/api/v1/auth/register",
        json={"email": "renée@example.com", "password": PASSWORD, "full_name": "Renée"},
    )
    assert other.status_code == 201, other.text
    assert other.json()["email"] == "renée@example.com"
    same = await sales_client.post(
        "/api/v1/auth/register",
        json={"email": "RENEE@example.com", "password": PASSWORD, "full_name": "Renee"},
    )
    assert same.status_code == 409
    assert same.json()["code"] == "email_exists"
    async with isolated_database.session_factory() as session:
        keys = (await session.scalars(select(UserAccount.email_key))).all()
    assert sorted(keys) == ["renee@example.com", "renée@example.com"]


@pytest.mark.parametrize(
    "look_alike",
    ["vic\u200btim@example.com", "victim\u202e@example.com", "vic\u00adtim@example.com"],
)
async def test_zero_width_and_bidi_characters_are_refused_at_registration(
    sales_client: AsyncClient, look_alike: str
) -> None:
    response = await sales_client.post(
        "/api/v1/auth/register",
        json={"email": look_alike, "password": PASSWORD, "full_name": "Look Alike"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/email"


async def test_compatibility_forms_are_stored_normalized(sales_client: AsyncClient) -> None:
    response = await sales_client.post(
        "/api/v1/auth/register",
        json={"email": "ＭＡＩＬ@example.com", "password": PASSWORD, "full_name": "Wide"},  # noqa: RUF001
    )
    assert response.status_code == 201, response.text
    assert response.json()["email"] == "mail@example.com"


async def test_six_addresses_cannot_lock_an_admin_out(
    isolated_database: Database, settings: Settings
) -> None:
    """Attack 3: six wrong passwords from six addresses used to lock the account for 15
    minutes; now each address is limited on its own and the owner still signs in."""
    admin = await make_account(isolated_database, settings)
    uow = UnitOfWork(isolated_database)
    outcomes = [
        await attempt(uow, settings, admin.email, WRONG, f"203.0.113.{n}") for n in range(1, 7)
    ]
    assert outcomes == ["wrong"] * 6
    assert await attempt(uow, settings, admin.email, PASSWORD, "198.51.100.7") == "ok"


async def test_right_password_from_a_clean_address_signs_in_while_another_is_throttled(
    isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    uow = UnitOfWork(isolated_database)
    attacker, owner = "203.0.113.9", "198.51.100.20"
    for _ in range(settings.login_max_failures_per_pair):
        assert await attempt(uow, settings, account.email, WRONG, attacker) == "wrong"
    assert await attempt(uow, settings, account.email, PASSWORD, attacker) == "throttled"
    assert await attempt(uow, settings, account.email, PASSWORD, owner) == "ok"
    # The attacker's address is still throttled after the owner signed in.
    assert await attempt(uow, settings, account.email, PASSWORD, attacker) == "throttled"


async def test_throttled_attempts_cost_the_account_nothing(
    isolated_database: Database, settings: Settings
) -> None:
    """Hammering from one throttled address never adds up to the account-wide ceiling."""
    strict = settings.model_copy(
        update={"login_max_failures_per_pair": 2, "login_max_failures_per_account": 4}
    )
    account = await make_account(isolated_database, strict)
    uow = UnitOfWork(isolated_database)
    outcomes = [await attempt(uow, strict, account.email, WRONG, "203.0.113.1") for _ in range(10)]
    assert outcomes == ["wrong"] * 2 + ["throttled"] * 8
    assert await attempt(uow, strict, account.email, PASSWORD, "198.51.100.1") == "ok"


async def test_account_wide_ceiling_stops_a_distributed_guess(
    isolated_database: Database, settings: Settings
) -> None:
    """Guessing from many addresses is bounded per account: past the ceiling every address
    waits, the right password included, and reaching it took ceiling / pair addresses."""
    strict = settings.model_copy(
        update={"login_max_failures_per_pair": 2, "login_max_failures_per_account": 6}
    )
    account = await make_account(isolated_database, strict)
    uow = UnitOfWork(isolated_database)
    addresses = [f"203.0.113.{n}" for n in range(1, 4)]  # 6 / 2 = 3 addresses needed
    for address in addresses:
        for _ in range(2):
            assert await attempt(uow, strict, account.email, WRONG, address) == "wrong"
    assert await attempt(uow, strict, account.email, PASSWORD, "198.51.100.1") == "throttled"


async def test_address_ceiling_stops_a_spray_across_accounts(
    isolated_database: Database, settings: Settings
) -> None:
    strict = settings.model_copy(update={"login_max_failures_per_address": 3})
    account = await make_account(isolated_database, strict)
    uow = UnitOfWork(isolated_database)
    sprayer = "203.0.113.50"
    for _ in range(3):
        assert await attempt(uow, strict, unique_email("spray"), WRONG, sprayer) == "wrong"
    assert await attempt(uow, strict, account.email, PASSWORD, sprayer) == "throttled"
    assert await attempt(uow, strict, account.email, PASSWORD, "198.51.100.2") == "ok"


async def test_case_variants_share_one_throttle(
    isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings, email="case@example.com")
    uow = UnitOfWork(isolated_database)
    spellings = ["case@example.com", "CASE@example.com", "Case@Example.Com", "ＣＡＳＥ@example.com"]  # noqa: RUF001
    limit = settings.login_max_failures_per_pair
    outcomes = [
        await attempt(uow, settings, spellings[n % len(spellings)], WRONG, "203.0.113.77")
        for n in range(limit + 1)
    ]
    assert outcomes == ["wrong"] * limit + ["throttled"]
    assert await attempt(uow, settings, account.email, PASSWORD, "203.0.113.77") == "throttled"
    async with isolated_database.session_factory() as session:
        pairs = await session.scalar(
            select(func.count()).select_from(LoginThrottle).where(LoginThrottle.scope == "pair")
        )
    assert pairs == 1
