"""Migrations are the only way the schema is built: prove they go up, down, and match models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from common.db import Base, build_engine
from common.migrations import alembic_config
from tests.fixtures.databases import downgrade, make_settings, migrate


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _state(connection: Connection) -> tuple[str | None, set[str], list[Any]]:
    current = MigrationContext.configure(connection).get_current_revision()
    tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return current, tables, compare_metadata(context, Base.metadata)


async def _inspect(url: str) -> tuple[str | None, set[str], list[Any]]:
    engine = build_engine(url, make_settings(url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_state)
    finally:
        await engine.dispose()


async def test_upgrade_builds_exactly_the_models(
    backend_name: str, fresh_database_url: Callable[[str], Any]
) -> None:
    url = await fresh_database_url(backend_name)
    await migrate(url)
    current, tables, differences = await _inspect(url)
    assert current == _head()
    assert tables == set(Base.metadata.tables)
    assert differences == []


async def test_downgrade_to_base_and_up_again(
    backend_name: str, fresh_database_url: Callable[[str], Any]
) -> None:
    url = await fresh_database_url(backend_name)
    await migrate(url)
    await downgrade(url, "base")
    current, tables, _ = await _inspect(url)
    assert current is None
    assert tables == set()
    await migrate(url)
    current, tables, differences = await _inspect(url)
    assert current == _head()
    assert differences == []


def test_revisions_form_one_line() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


async def _insert_accounts(
    connection: AsyncConnection, emails: dict[int, str], *, now: str
) -> None:
    """Accounts as an older revision's schema holds them (no column added since 0002)."""
    await connection.execute(
        text(
            "INSERT INTO user_account (id, email, password_hash, full_name, role, "
            "is_active, wallet_balance, created_at, updated_at) "
            "VALUES (:id, :email, 'x', 'U', 'customer', 1, 0, :now, :now)"
        ),
        [{"id": id_, "email": email, "now": now} for id_, email in emails.items()],
    )


async def test_rating_counters_count_the_reviews_that_exist(
    backend_name: str, fresh_database_url: Callable[[str], Any]
) -> None:
    """0007 adds the counters and fills them from the approved reviews already there."""
    url = await fresh_database_url(backend_name)
    await migrate(url, "0006")
    engine = build_engine(url, make_settings(url))
    now = "2026-01-01 00:00:00"
    try:
        async with engine.begin() as connection:
            await _insert_accounts(connection, {i: f"u{i}@example.com" for i in (1, 2, 3)}, now=now)
            await connection.execute(
                text(
                    "INSERT INTO category (id, name, name_key, slug, created_at, updated_at) "
                    "VALUES (1, 'C', 'c', 'c', :now, :now)"
                ),
                {"now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO product (id, sku, name, category_id, price, status, "
                    "low_stock_threshold, stock_on_hand, created_at, updated_at) VALUES "
                    "(1, 'A', 'A', 1, 1, 'active', 0, 0, :now, :now), "
                    "(2, 'B', 'B', 1, 1, 'active', 0, 0, :now, :now)"
                ),
                {"now": now},
            )
            reviews = [
                (1, 1, 5, "approved"),
                (1, 2, 2, "approved"),
                (1, 3, 1, "rejected"),
                (2, 1, 4, "pending"),
            ]
            for product_id, user_id, rating, status in reviews:
                await connection.execute(
                    text(
                        "INSERT INTO review (product_id, user_id, rating, body, status, "
                        "created_at, updated_at) VALUES (:p, :u, :r, 'b', :s, :now, :now)"
                    ),
                    {"p": product_id, "u": user_id, "r": rating, "s": status, "now": now},
                )
        await migrate(url)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT id, rating_count, rating_total FROM product ORDER BY id")
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [(1, 2, 7), (2, 0, 0)]


async def test_email_keys_are_filled_for_existing_accounts(
    backend_name: str, fresh_database_url: Callable[[str], Any]
) -> None:
    """0010 gives every existing account its canonical key, and the key is then unique."""
    url = await fresh_database_url(backend_name)
    await migrate(url, "0009")
    engine = build_engine(url, make_settings(url))
    now = "2026-01-01 00:00:00"
    try:
        async with engine.begin() as connection:
            await _insert_accounts(
                connection, {1: "strasse@example.com", 2: "renée@example.com"}, now=now
            )
        await migrate(url)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT id, email_key FROM user_account ORDER BY id"))
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [(1, "strasse@example.com"), (2, "renée@example.com")]
