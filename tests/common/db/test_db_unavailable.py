"""The engine when the MySQL server goes away: connects are bounded by DB_CONNECT_TIMEOUT (the
handshake included), failures are classified as "unavailable", and the pool recovers by
itself once the server is back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pymysql
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db import build_engine
from common.db.dialect import is_unavailable
from tests.fixtures.databases import Backend, make_settings
from tests.fixtures.tcp_proxy import TcpProxy, proxy_to

pytestmark = pytest.mark.mysql_only

CONNECT_TIMEOUT = 1
# Scheduling slack on a loaded two-core machine; the point is "bounded", not "fast".
SLACK = 1.5


@pytest.fixture
async def proxy(backend: Backend) -> AsyncIterator[TcpProxy]:
    async with proxy_to(backend.url) as started:
        yield started


@pytest.fixture
async def engine(proxy: TcpProxy, backend: Backend) -> AsyncIterator[AsyncEngine]:
    url = proxy.url_for(backend.url)
    engine = build_engine(url, make_settings(url, db_connect_timeout=CONNECT_TIMEOUT))
    yield engine
    await engine.dispose()


async def select_one(engine: AsyncEngine) -> int | None:
    async with engine.connect() as connection:
        value: int | None = await connection.scalar(text("SELECT 1"))
        return value


@pytest.mark.parametrize(
    ("outage", "at_least", "below"),
    [
        # Accepted and never answered: given up on when the connect timeout runs out.
        ("stall", CONNECT_TIMEOUT, CONNECT_TIMEOUT + SLACK),
        # Refused: known at once.
        ("cut", 0, CONNECT_TIMEOUT),
    ],
)
async def test_an_unreachable_server_fails_as_unavailable_within_the_connect_timeout(
    proxy: TcpProxy, engine: AsyncEngine, outage: str, at_least: float, below: float
) -> None:
    await getattr(proxy, outage)()
    started = time.monotonic()
    with pytest.raises(OperationalError) as raised:
        await select_one(engine)
    elapsed = time.monotonic() - started
    assert is_unavailable(raised.value)
    assert at_least <= elapsed < below


async def test_the_pool_replaces_connections_cut_while_the_server_was_away(
    proxy: TcpProxy, engine: AsyncEngine
) -> None:
    assert await select_one(engine) == 1
    await proxy.cut()
    with pytest.raises(OperationalError):
        await select_one(engine)
    await proxy.restore()
    # The pooled connection died with the cut; the pre-ping notices and reconnects.
    assert await select_one(engine) == 1


READ_TIMEOUT = 1.0


async def test_a_query_whose_link_goes_silent_fails_within_the_read_timeout(
    proxy: TcpProxy, backend: Backend
) -> None:
    """Frozen mid-query (no reset, no reply): given up on after DB_READ_TIMEOUT, as a lost
    connection, and the pool works again once the path is back."""
    url = proxy.url_for(backend.url)
    settings = make_settings(url, db_connect_timeout=CONNECT_TIMEOUT, db_read_timeout=READ_TIMEOUT)
    engine = build_engine(url, settings)
    try:
        assert await select_one(engine) == 1  # a pooled, healthy connection
        async with engine.connect() as connection:
            await proxy.freeze()
            started = time.monotonic()
            with pytest.raises(OperationalError) as raised:
                await connection.scalar(text("SELECT 2"))
            elapsed = time.monotonic() - started
        assert is_unavailable(raised.value)
        assert READ_TIMEOUT <= elapsed < READ_TIMEOUT + SLACK
        await proxy.restore()
        assert await select_one(engine) == 1
    finally:
        await engine.dispose()


async def test_a_slow_reply_within_the_read_timeout_is_waited_for(backend: Backend) -> None:
    """The deadline is on silence, not on work: a statement that answers in time succeeds,
    and one that does not is cut as a lost connection (the server's own SLEEP stands in for
    a long statement)."""
    engine = build_engine(backend.url, make_settings(backend.url, db_read_timeout=READ_TIMEOUT))
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT SLEEP(0.3)")) == 0
        with pytest.raises(OperationalError) as raised:
            async with engine.connect() as connection:
                await connection.scalar(text("SELECT SLEEP(3)"))
        assert is_unavailable(raised.value)
        assert await select_one(engine) == 1  # the pool recovered
    finally:
        await engine.dispose()


def test_a_server_out_of_connections_counts_as_unavailable() -> None:
    # What aiomysql raises when the server is at `max_connections`: a 503 to retry, not a 500.
    refused = OperationalError("connect", {}, pymysql.err.OperationalError(1040, "Too many"))
    assert is_unavailable(refused)
    other = OperationalError("select", {}, pymysql.err.OperationalError(1054, "Unknown column"))
    assert not is_unavailable(other)
