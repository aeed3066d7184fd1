"""Both services with `DATABASE_READ_URL` on a real asynchronous GTID replica of their primary:
lists and reports read the replica while it keeps up, reads of one entity by id (what a client
just wrote) and every guarded write use the primary, and a replica whose replication stopped
is bypassed while writes go on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

from common.db import Database
from common.models.identity import Role
from tests.fixtures.clients import make_products
from tests.fixtures.databases import empty_tables
from tests.fixtures.factories import API, bearer, make_account
from tests.fixtures.galera import ReplicatedDatabase
from tests.fixtures.processes import PRODUCTS_APP, SALES_APP, ServiceProcess, running

# An id the primary will never hand out, for a row written on the replica alone: a list that
# shows it was read on the replica.
REPLICA_ONLY_ID = 2_000_000_000
INSERT_REPLICA_ONLY_CATEGORY = (
    "INSERT INTO category (id, name, name_key, slug, created_at, updated_at) VALUES"
    " (:id, 'Replica only', 'replica only', 'replica-only', NOW(6), NOW(6))"
)


class Services:
    def __init__(self, replicated: ReplicatedDatabase) -> None:
        environment = {
            "DATABASE_READ_URL": replicated.replica_url,
            "READ_REPLICA_MAX_LAG_SECONDS": "5",
        }
        self.sales = ServiceProcess(replicated.backend, SALES_APP, environment=environment)
        self.products = ServiceProcess(replicated.backend, PRODUCTS_APP, environment=environment)


@pytest.fixture(scope="module")
async def services(replicated_schema: ReplicatedDatabase) -> AsyncIterator[Services]:
    services = Services(replicated_schema)
    async with running(services.sales, services.products):
        yield services


@pytest.fixture
async def primary(replicated_schema: ReplicatedDatabase) -> AsyncIterator[Database]:
    database = Database.from_settings(replicated_schema.backend.settings)
    yield database
    await replicated_schema.on_replica("DELETE FROM category WHERE id = :id", id=REPLICA_ONLY_ID)
    await empty_tables(database.engine)  # replicated like any write
    await database.dispose()


@dataclass
class ProductsService:
    client: httpx.AsyncClient
    admin: dict[str, str]


@pytest.fixture
async def products(
    services: Services, replicated_schema: ReplicatedDatabase, primary: Database
) -> AsyncIterator[ProductsService]:
    """A client of the products service and an admin's headers, once its lists read the
    replica, which alone has the category `REPLICA_ONLY_ID`."""
    await replicated_schema.on_replica(INSERT_REPLICA_ONLY_CATEGORY, id=REPLICA_ONLY_ID)
    settings = replicated_schema.backend.settings
    admin = bearer(await make_account(primary, settings, role=Role.admin), settings)
    async with httpx.AsyncClient(base_url=services.products.url, timeout=30) as client:
        await eventually(reads_the_replica(client), "lists read the replica")
        yield ProductsService(client, admin)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Until `check()` holds (replication and the replica check take a moment)."""
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


async def category_ids(client: httpx.AsyncClient) -> set[int]:
    page = (await client.get(f"{API}/categories", params={"limit": 200})).json()
    return {category["id"] for category in page["items"]}


def reads_the_replica(products: httpx.AsyncClient) -> Callable[[], Awaitable[bool]]:
    """Whether the category list shows the row that only the replica has."""

    async def check() -> bool:
        return REPLICA_ONLY_ID in await category_ids(products)

    return check


def reads_the_primary(products: httpx.AsyncClient) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return REPLICA_ONLY_ID not in await category_ids(products)

    return check


async def test_lists_read_the_replica_and_one_entity_by_id_the_primary(
    products: ProductsService,
) -> None:
    assert REPLICA_ONLY_ID in await category_ids(products.client)
    by_id = await products.client.get(f"{API}/categories/{REPLICA_ONLY_ID}")
    assert (by_id.status_code, by_id.json()["code"]) == (404, "category_not_found")
    # What a client just wrote it reads back at once, whatever the replica has yet.
    created = await products.client.post(
        f"{API}/categories", json={"name": "New"}, headers=products.admin
    )
    read_back = await products.client.get(f"{API}/categories/{created.json()['id']}")
    assert read_back.json()["name"] == "New"


async def test_a_sale_reaches_the_replicas_report_which_always_agrees_with_itself(
    services: Services, replicated_schema: ReplicatedDatabase, primary: Database
) -> None:
    settings = replicated_schema.backend.settings
    (product,) = await make_products(settings, primary, 20, price="4.00")
    admin = bearer(await make_account(primary, settings, role=Role.admin), settings)
    reports: list[dict[str, object]] = []

    async with httpx.AsyncClient(base_url=services.sales.url, timeout=30) as sales:

        async def sell() -> None:
            for _ in range(20):
                body = {"product_id": product, "quantity": 1}
                response = await sales.post(f"{API}/sales", json=body, headers=admin)
                assert response.status_code == 201

        async def read_reports() -> None:
            while not reports or reports[-1]["units"]["value"] != "20":  # type: ignore[index]
                summary = await sales.get(f"{API}/analytics/summary", headers=admin)
                reports.append(summary.json())
                await asyncio.sleep(0.05)

        await asyncio.wait_for(asyncio.gather(sell(), read_reports()), timeout=60)

    for report in reports:
        units = Decimal(report["units"]["value"] or 0)  # type: ignore[index]
        # One snapshot: units, count and revenue always describe the same sales.
        assert Decimal(report["sales_count"]["value"] or 0) == units  # type: ignore[index]
        assert Decimal(report["net_revenue"]["value"] or 0) == units * 4  # type: ignore[index]


async def test_a_replica_whose_replication_stopped_is_bypassed_while_writes_go_on(
    products: ProductsService, replicated_schema: ReplicatedDatabase
) -> None:
    await replicated_schema.on_replica("STOP REPLICA SQL_THREAD")
    try:
        (status,) = await replicated_schema.on_replica("SHOW REPLICA STATUS")
        assert status["Seconds_Behind_Master"] is None  # the lag is unknown: not current
        await eventually(reads_the_primary(products.client), "lists bypass the stopped replica")
        created = await products.client.post(
            f"{API}/categories", json={"name": "Later"}, headers=products.admin
        )
        assert created.status_code == 201
        # Listed at once (from the primary), though the replica does not have it.
        assert created.json()["id"] in await category_ids(products.client)
        on_replica = await replicated_schema.on_replica(
            "SELECT id FROM category WHERE id = :id", id=created.json()["id"]
        )
        assert on_replica == []
    finally:
        await replicated_schema.on_replica("START REPLICA SQL_THREAD")
    await eventually(reads_the_replica(products.client), "lists read the replica again")


async def test_a_replica_lagging_past_the_bound_is_bypassed_until_it_catches_up(
    products: ProductsService, replicated_schema: ReplicatedDatabase
) -> None:
    # The replica applies every event a minute late: it falls behind as soon as the primary
    # writes, and the lag grows past the services' bound of 5 s.
    await replicated_schema.on_replica("STOP REPLICA")
    await replicated_schema.on_replica("CHANGE MASTER TO MASTER_DELAY = 60")
    await replicated_schema.on_replica("START REPLICA")
    try:
        written = await products.client.post(
            f"{API}/categories", json={"name": "Late"}, headers=products.admin
        )
        assert written.status_code == 201
        await eventually(reads_the_primary(products.client), "lists bypass the lagging replica")
        (status,) = await replicated_schema.on_replica("SHOW REPLICA STATUS")
        assert status["Seconds_Behind_Master"] > 5
        assert written.json()["id"] in await category_ids(products.client)
    finally:
        await replicated_schema.on_replica("STOP REPLICA")
        await replicated_schema.on_replica("CHANGE MASTER TO MASTER_DELAY = 0")
        await replicated_schema.on_replica("START REPLICA")
    await eventually(reads_the_replica(products.client), "lists read the caught-up replica")
