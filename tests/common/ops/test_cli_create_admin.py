"""`python -m common.ops create-admin` against the configured database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from common.config import Settings
from common.db import Database
from common.identity.passwords import verify_password
from common.models.identity import UserAccount
from common.ops.cli import create_admin, main
from tests.fixtures.databases import Backend
from tests.fixtures.factories import make_account
from tests.fixtures.processes import run_cli


async def account_by_email(database: Database, email: str) -> UserAccount | None:
    async with database.session_factory() as session:
        account: UserAccount | None = await session.scalar(
            select(UserAccount).where(UserAccount.email == email)
        )
    return account


async def test_create_admin_creates_an_admin_that_can_sign_in(
    committed_database: Database, settings: Settings
) -> None:
    created = await create_admin(settings, email="boss@example.test", password="long enough 1")
    account = await account_by_email(committed_database, "boss@example.test")
    assert created is True
    assert account is not None
    assert (account.role, account.is_active) == ("admin", True)
    assert (await verify_password(account.password_hash, "long enough 1", settings)).valid


async def test_create_admin_promotes_and_reactivates_an_existing_account(
    committed_database: Database, settings: Settings
) -> None:
    customer = await make_account(committed_database, settings, is_active=False)
    created = await create_admin(settings, email=customer.email, password="new password 2")
    account = await account_by_email(committed_database, customer.email)
    assert created is False
    assert account is not None
    assert (account.id, account.role, account.is_active) == (customer.id, "admin", True)
    assert (await verify_password(account.password_hash, "new password 2", settings)).valid


@pytest.mark.parametrize(
    ("email", "password"), [("not-an-email", "long enough 1"), ("a@b.test", "short")]
)
def test_create_admin_refuses_bad_input(
    email: str, password: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create-admin", "--email", email, "--password", password]) == 2
    assert capsys.readouterr().err.startswith("error:")


async def test_create_admin_command_uses_the_configured_database(
    committed_database: Database, backend: Backend
) -> None:
    code, out, err = await run_cli(
        backend.url, "create-admin", "--email", "Ops@Example.test", "--password", "long enough 3"
    )
    assert code == 0, err
    assert out.strip() == "created admin ops@example.test"
    account = await account_by_email(committed_database, "ops@example.test")
    assert account is not None
    assert account.role == "admin"
