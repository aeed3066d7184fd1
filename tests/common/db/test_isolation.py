"""The test fixtures themselves: rolled-back isolation and real commits."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database
from common.models import Category

MARKER = "Isolation marker"


async def _write_marker_into_an_empty_table(session: AsyncSession) -> None:
    # Both tests below do this; whichever runs second proves the first left nothing behind.
    assert await session.scalar(select(func.count()).select_from(Category)) == 0
    session.add(Category(name=MARKER, name_key=MARKER.casefold(), slug="isolation-marker"))
    await session.commit()
    assert await session.scalar(select(Category.name)) == MARKER


async def test_rows_of_one_test_are_invisible_to_the_next_first(session: AsyncSession) -> None:
    await _write_marker_into_an_empty_table(session)


async def test_rows_of_one_test_are_invisible_to_the_next_second(session: AsyncSession) -> None:
    await _write_marker_into_an_empty_table(session)


async def test_committed_database_commits_across_connections(
    committed_database: Database,
) -> None:
    async with committed_database.session_factory() as writer:
        writer.add(Category(name=MARKER, name_key=MARKER.casefold(), slug="isolation-marker"))
        await writer.commit()
    # A different pooled connection, outside any test transaction, sees the committed row.
    async with committed_database.engine.connect() as other:
        names = (await other.execute(text("SELECT name FROM category"))).scalars().all()
    assert names == [MARKER]
