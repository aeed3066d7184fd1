"""The engine when the MySQL server goes away: connects are bounded by DB_CONNECT_TIMEOUT (the
handshake included), failures are classified as "unavailable", and the pool recovers by
itself once the server is back."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncmy
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.db import Database, build_engine
from common.db.dialect import (
    ER_CON_COUNT_ERROR,
    ER_OPTION_PREVENTS_STATEMENT,
    ER_SERVER_SHUTDOWN,
    ER_TOO_MANY_USER_CONNECTIONS,
    is_unavailable,
)
from products_microservice.main import build_app as build_products_app
from tests.fixtures.clients import serve
from tests.fixtures.databases import MYSQL_SERVER_URL, Backend, make_settings
from tests.fixtures.factories import API
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


@pytest.mark.parametrize(
    "code",
    [
        ER_CON_COUNT_ERROR,  # at max_connections
        ER_TOO_MANY_USER_CONNECTIONS,  # at the account's MAX_USER_CONNECTIONS
        ER_OPTION_PREVENTS_STATEMENT,  # read-only
        ER_SERVER_SHUTDOWN,  # shutting down
    ],
)
def test_a_server_refusing_work_for_now_counts_as_unavailable(code: int) -> None:
    # What asyncmy raises for those server errors: a 503 to retry, not a 500.
    refused = OperationalError("connect", {}, asyncmy.errors.OperationalError(code, "refused"))
    assert is_unavailable(refused)
    other = OperationalError("select", {}, asyncmy.errors.OperationalError(1054, "Unknown column"))
    assert not is_unavailable(other)


@pytest.fixture
async def limited_account(backend: Backend) -> AsyncIterator[str]:
    """The test database's URL as an account of its own allowed one connection at a time
    (`WITH MAX_USER_CONNECTIONS 1`): the server's global limit is never touched."""
    url = make_url(backend.url)
    user, password = f"limited_{secrets.token_hex(4)}", secrets.token_hex(12)
    async with select_root() as root:
        await root.execute(
            text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}' WITH MAX_USER_CONNECTIONS 1")
        )
        await root.execute(text(f"GRANT ALL ON `{url.database}`.* TO '{user}'@'%'"))
    try:
        limited = url.set(username=user, password=password, host="127.0.0.1")
        yield limited.render_as_string(hide_password=False)
    finally:
        async with select_root() as root:
            await root.execute(text(f"DROP USER '{user}'@'%'"))


@asynccontextmanager
async def select_root() -> AsyncIterator[AsyncConnection]:
    engine = build_engine(make_url(MYSQL_SERVER_URL), make_settings(MYSQL_SERVER_URL))
    try:
        async with engine.begin() as connection:
            yield connection
    finally:
        await engine.dispose()


async def test_an_account_at_its_connection_limit_answers_503_until_a_connection_frees(
    limited_account: str, backend: Backend
) -> None:
    settings = make_settings(limited_account, db_pool_size=1, db_max_overflow=0)
    database = Database.from_settings(settings)
    holder = build_engine(limited_account, settings)
    path = f"{API}/products?limit=1"
    try:
        app = build_products_app(settings=settings, database=database)
        async for client in serve(app):
            async with holder.connect() as held:  # the account's one connection
                assert await held.scalar(text("SELECT 1")) == 1
                refused = await client.get(path)
            # The holder's link closed: the next request gets a connection.
            await holder.dispose()
            served = await client.get(path)
    finally:
        await database.dispose()
        await holder.dispose()

    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "database_unavailable"
    assert int(refused.headers["retry-after"]) > 0
    assert served.status_code == 200, served.text
    assert served.json()["limit"] == 1


async def test_an_aiomysql_url_is_served_by_asyncmy_with_a_warning(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """Deployments whose DATABASE_URL still says `mysql+aiomysql://` keep working."""
    old = make_url(backend.url).set(drivername="mysql+aiomysql")
    with caplog.at_level(logging.WARNING, logger="common.db.engine"):
        engine = build_engine(old, make_settings(backend.url))
    try:
        assert engine.url.drivername == "mysql+asyncmy"
        assert await select_one(engine) == 1
    finally:
        await engine.dispose()
    (warning,) = [r for r in caplog.records if r.name == "common.db.engine"]
    assert "mysql+asyncmy://" in warning.getMessage()


def test_another_mysql_driver_is_refused_with_the_one_to_use() -> None:
    url = "mysql+pymysql://root@127.0.0.1:3306/shop"
    with pytest.raises(ValueError, match=r"mysql\+asyncmy://"):
        build_engine(url, make_settings(url))
