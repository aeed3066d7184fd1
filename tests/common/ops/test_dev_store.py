"""`dev-setup`, what `./docker-manager.sh dev` runs before the services: the demo store into an
empty catalog and a development admin whose password is shown once."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from common.config import Settings
from common.db import Database
from common.identity.passwords import verify_password
from common.models.catalog import Product
from common.models.identity import Role, UserAccount
from common.ops.demo.options import DemoOptions
from common.ops.dev_store import DEV_ADMIN_EMAIL, prepare_dev_store
from tests.fixtures.factories import make_account

TINY = DemoOptions(products=4, days=5, sales=20, customers=2, orders=2, end=date(2025, 3, 1))


async def test_an_empty_store_gets_the_demo_and_an_admin_whose_password_is_kept_private(
    committed_database: Database, settings: Settings, tmp_path: Path
) -> None:
    credentials = tmp_path / "var" / "dev-admin.txt"
    store = await prepare_dev_store(settings, credentials=credentials, demo=TINY)
    assert store.demo is not None
    assert store.demo.products == 4
    assert store.admin_email == DEV_ADMIN_EMAIL
    assert store.admin_password is not None
    assert (
        credentials.read_text() == f"email: {DEV_ADMIN_EMAIL}\npassword: {store.admin_password}\n"
    )
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    async with committed_database.session_factory() as session:
        admin = await session.scalar(
            select(UserAccount).where(UserAccount.email == DEV_ADMIN_EMAIL)
        )
        products = await session.scalar(select(func.count()).select_from(Product))
    assert admin is not None
    assert admin.role == Role.admin.value
    assert (await verify_password(admin.password_hash, store.admin_password, settings)).valid
    assert products == 4


async def test_a_second_run_neither_seeds_again_nor_shows_a_password(
    committed_database: Database, settings: Settings, tmp_path: Path
) -> None:
    credentials = tmp_path / "dev-admin.txt"
    first = await prepare_dev_store(settings, credentials=credentials, demo=TINY)
    second = await prepare_dev_store(settings, credentials=credentials, demo=TINY)
    assert second.demo is None
    assert (second.admin_email, second.admin_password) == (None, None)
    # The file still holds the password that works.
    assert first.admin_password is not None
    assert first.admin_password in credentials.read_text()


async def test_a_store_with_an_admin_gets_no_development_admin(
    committed_database: Database, settings: Settings, tmp_path: Path
) -> None:
    await make_account(committed_database, settings, role=Role.admin)
    credentials = tmp_path / "dev-admin.txt"
    store = await prepare_dev_store(settings, credentials=credentials, demo=None)
    assert (store.demo, store.admin_password) == (None, None)
    assert not credentials.exists()
    async with committed_database.session_factory() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(UserAccount)
            .where(UserAccount.email == DEV_ADMIN_EMAIL)
        )
    assert count == 0
