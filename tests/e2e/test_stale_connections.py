"""Pooled connections the server has closed (killed, or idle past `wait_timeout`) cost the next
request nothing: under uvloop, as the image runs uvicorn, and under plain asyncio, a real
service whose every pooled link was killed from the server side answers 200.

aiomysql under uvloop answered 500 here (its ping raised a raw `RuntimeError ... handler is
closed`, aiomysql issue 966); asyncmy reports the dead link as a lost connection, which the
pool replaces."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from common.config import Settings
from common.db import Database, build_engine
from tests.fixtures.clients import make_products
from tests.fixtures.databases import MYSQL_SERVER_URL, Backend, make_settings
from tests.fixtures.factories import API, bearer, make_account
from tests.fixtures.processes import PRODUCTS_APP, ServiceProcess, running

pytestmark = pytest.mark.mysql_only

POOL = 4


async def kill_connections_to(database_name: str) -> int:
    """KILL CONNECTION every link to `database_name` except this one, from the server's side;
    how many were killed."""
    server = make_url(MYSQL_SERVER_URL)
    engine = build_engine(server.set(database=None), make_settings(MYSQL_SERVER_URL))
    try:
        async with engine.connect() as connection:
            ids = (
                await connection.scalars(
                    text(
                        "SELECT id FROM information_schema.processlist"
                        " WHERE db = :db AND id <> CONNECTION_ID()"
                    ),
                    {"db": database_name},
                )
            ).all()
            for thread_id in ids:
                await connection.execute(text(f"KILL CONNECTION {int(thread_id)}"))
        return len(ids)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_a_request_after_the_server_killed_every_pooled_connection_is_answered(
    loop: str, backend: Backend, settings: Settings, committed_database: Database
) -> None:
    (product,) = await make_products(settings, committed_database, 7)
    customer = bearer(await make_account(committed_database, settings), settings)
    service = ServiceProcess(
        backend,
        PRODUCTS_APP,
        environment={"DB_POOL_SIZE": str(POOL), "DB_MAX_OVERFLOW": "0"},
        loop=loop,
    )
    path = f"{API}/products/{product}"
    async with running(service), httpx.AsyncClient(base_url=service.url, timeout=30) as client:
        # Every slot of the pool opened and returned: the requests overlap.
        before = await asyncio.gather(
            *(client.get(path, headers=customer) for _ in range(3 * POOL))
        )
        assert {r.status_code for r in before} == {200}

        database_name = make_url(backend.url).database
        assert database_name
        assert await kill_connections_to(database_name) >= POOL

        after = [await client.get(path, headers=customer) for _ in range(2 * POOL)]
        ready = await client.get("/ready")

    assert [r.status_code for r in after] == [200] * (2 * POOL), after[0].text
    # Anonymous reads: the status of the 7 units (under the default threshold), from every
    # fresh connection alike.
    assert {(r.json()["id"], r.json()["stock_status"]) for r in after} == {(product, "low_stock")}
    assert ready.status_code == 200
