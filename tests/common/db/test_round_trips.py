"""What a request costs in round trips on MySQL: a session that read and closed ends its
transaction once (the pool does not roll back again what the session already rolled back), and
a connection handed back with a transaction still open is rolled back by the pool."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db import build_engine, build_session_factory
from tests.fixtures.databases import Backend, make_settings

pytestmark = pytest.mark.mysql_only

READS = 5


@pytest.fixture
async def one_connection(backend: Backend) -> AsyncIterator[AsyncEngine]:
    """An engine whose pool holds exactly one connection, so its session counters are ours."""
    engine = build_engine(
        backend.url, make_settings(backend.url, db_pool_size=1, db_max_overflow=0)
    )
    yield engine
    await engine.dispose()


async def rollbacks(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        row = (await connection.execute(text("SHOW SESSION STATUS LIKE 'Com_rollback'"))).one()
        return int(row[1])


async def test_a_session_that_read_is_rolled_back_once_not_twice(
    one_connection: AsyncEngine,
) -> None:
    factory = build_session_factory(one_connection)
    before = await rollbacks(one_connection)
    for _ in range(READS):
        async with factory() as session:
            assert await session.scalar(text("SELECT 1")) == 1
    after = await rollbacks(one_connection)
    # One ROLLBACK per read, and one for the connection that read `before`.
    assert after - before == READS + 1


async def test_a_connection_returned_inside_a_transaction_is_rolled_back_by_the_pool(
    one_connection: AsyncEngine,
) -> None:
    async with one_connection.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        # Behind SQLAlchemy's back, as a cancelled request could leave it: a transaction open.
        await driver.begin()
        await driver.query("SELECT COUNT(*) FROM product")
        assert driver.get_transaction_status()
        # SQLAlchemy's own connection began nothing, so its close leaves it to the pool.
    async with one_connection.connect() as connection:
        raw = await connection.get_raw_connection()
        assert raw.driver_connection is driver  # the same pooled link
        assert not driver.get_transaction_status()
