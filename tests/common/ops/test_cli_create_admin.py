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
    email: str, password: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADMIN_PASSWORD", password)
    assert main(["create-admin", "--email", email]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_create_admin_takes_no_password_on_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Arguments show in `ps` and shell history: argparse refuses the option (exit 2).
    with pytest.raises(SystemExit) as refused:
        main(["create-admin", "--email", "a@b.test", "--password", "long enough 1"])
    assert refused.value.code == 2
    assert "unrecognized arguments: --password" in capsys.readouterr().err


async def test_create_admin_reads_the_password_from_stdin(
    committed_database: Database, backend: Backend, settings: Settings
) -> None:
    code, out, err = await run_cli(
        backend.url,
        "create-admin", "--email", "Ops@Example.test", "--password-stdin",
        stdin="long enough 3\n",
        environment={"ADMIN_PASSWORD": "not this one"},
    )  # fmt: skip
    assert code == 0, err
    assert out.strip() == "created admin ops@example.test"
    account = await account_by_email(committed_database, "ops@example.test")
    assert account is not None
    assert account.role == "admin"
    assert (await verify_password(account.password_hash, "long enough 3", settings)).valid


async def test_create_admin_reads_the_password_from_the_environment(
    committed_database: Database, backend: Backend, settings: Settings
) -> None:
    code, _, err = await run_cli(
        backend.url,
        "create-admin", "--email", "env@example.test",
        environment={"ADMIN_PASSWORD": "from the environment"},
    )  # fmt: skip
    assert code == 0, err
    account = await account_by_email(committed_database, "env@example.test")
    assert account is not None
    assert (await verify_password(account.password_hash, "from the environment", settings)).valid


async def test_create_admin_without_a_password_or_a_terminal_refuses(
    committed_database: Database, backend: Backend
) -> None:
    code, _, err = await run_cli(backend.url, "create-admin", "--email", "none@example.test")
    assert code == 2
    assert "no password" in err
    assert await account_by_email(committed_database, "none@example.test") is None


async def test_create_admin_refuses_a_common_password(
    committed_database: Database, backend: Backend
) -> None:
    code, _, err = await run_cli(
        backend.url,
        "create-admin", "--email", "weak@example.test",
        environment={"ADMIN_PASSWORD": "Password123"},
    )  # fmt: skip
    assert code == 2
    assert "most common passwords" in err
    assert await account_by_email(committed_database, "weak@example.test") is None
