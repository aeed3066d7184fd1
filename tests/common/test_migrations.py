"""Migrations are the only way the schema is built: prove they go up, down, and match models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from common.cli import alembic_config
from common.db import Base, build_engine
from tests.conftest import downgrade, make_settings, migrate


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
