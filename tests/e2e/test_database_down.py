"""The database goes away under load and comes back, with real service processes.

The shared MySQL server cannot be stopped (other tests use it), so the services reach it
through a TCP proxy that the test cuts (connections reset, new ones refused), stalls (new
connections accepted and never answered) or freezes (open connections go silent mid-query,
new ones are never answered). While it is away every request is answered with a
503 `database_unavailable` within the configured timeouts, `/ready` says so and `/health` does
not; once it is back the services resume by themselves and every ledger reconciles."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

import httpx
import pytest
from sqlalchemy import func, select

from common.config import Settings
from common.db import Database
from common.models.catalog import Product
from common.models.identity import UserAccount
from common.models.inventory import StockReservation
from common.models.orders import CustomerOrder
from common.models.sales import Sale
from tests.fixtures.clients import make_products
from tests.fixtures.databases import Backend
from tests.fixtures.factories import API, ORDERS, bearer, make_account, order_body
from tests.fixtures.ledgers import assert_ledgers_reconcile
from tests.fixtures.processes import PRODUCTS_APP, SALES_APP, ServiceProcess, running
from tests.fixtures.tcp_proxy import TcpProxy, proxy_to

pytestmark = pytest.mark.mysql_only

CONNECT_TIMEOUT = 1
POOL_TIMEOUT = 1
READ_TIMEOUT = 2
STOCK = 5000
SHOPPERS = 6
# The longest a request may take while the database is away: waiting for a pool slot (pool
# timeout), then for a connection that never completes (connect timeout), plus scheduling
# slack for a loaded two-core test machine.
BOUND = POOL_TIMEOUT + CONNECT_TIMEOUT + 1.5
# Frozen links answer nothing at all: a pooled connection's pre-ping (or a query in flight)
# is given up on after the read timeout first.
BOUNDS = {"cut": BOUND, "stall": BOUND, "freeze": READ_TIMEOUT + BOUND}


@dataclass
class Call:
    started: float
    elapsed: float
    response: httpx.Response


@dataclass
class Load:
    """Shoppers placing and paying orders in a loop, every call timed."""

    client: httpx.AsyncClient
    calls: list[Call] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def timed(self, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        started = time.monotonic()
        response = await send()
        self.calls.append(Call(started, time.monotonic() - started, response))
        return response

    async def shop(self, headers: dict[str, str], product: int) -> None:
        while not self.stop.is_set():
            placed = await self.timed(
                partial(self.client.post, ORDERS, json=order_body(product), headers=headers)
            )
            if placed.status_code == 201:
                pay = f"{ORDERS}/{placed.json()['id']}/pay"
                await self.timed(partial(self.client.post, pay, headers=headers))
            if placed.status_code == 503:
                await asyncio.sleep(0.05)  # a client backing off a little, as Retry-After asks

    def paid_since(self, moment: float) -> int:
        return sum(
            1
            for call in self.calls
            if call.started >= moment
            and call.response.status_code == 200
            and call.response.url.path.endswith("/pay")
        )

    async def until_paid_since(self, moment: float, count: int, *, within: float) -> None:
        deadline = time.monotonic() + within
        while self.paid_since(moment) < count:
            assert time.monotonic() < deadline, "the service did not take payments in time"
            await asyncio.sleep(0.05)


def through(proxy: TcpProxy, backend: Backend) -> dict[str, str]:
    return {
        "DATABASE_URL": proxy.url_for(backend.url),
        "DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        "DB_READ_TIMEOUT": str(READ_TIMEOUT),
        "DB_POOL_TIMEOUT": str(POOL_TIMEOUT),
        "DB_POOL_SIZE": "4",
        "DB_MAX_OVERFLOW": "4",
    }


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"]


@pytest.mark.parametrize("outage", list(BOUNDS))
async def test_requests_fail_fast_while_the_database_is_away_and_service_resumes(
    outage: str, backend: Backend, settings: Settings, committed_database: Database
) -> None:
    (product,) = await make_products(settings, committed_database, STOCK)
    customers = [
        await make_account(committed_database, settings, balance=Decimal("400.00"))
        for _ in range(SHOPPERS)
    ]

    async with proxy_to(backend.url) as proxy:
        sales = ServiceProcess(backend, SALES_APP, environment=through(proxy, backend))
        products = ServiceProcess(backend, PRODUCTS_APP, environment=through(proxy, backend))
        async with (
            running(sales, products),
            httpx.AsyncClient(base_url=sales.url, timeout=30) as sales_client,
            httpx.AsyncClient(base_url=products.url, timeout=30) as catalog,
        ):
            load = Load(sales_client)
            shoppers = [
                asyncio.create_task(load.shop(bearer(c, settings), product)) for c in customers
            ]
            await load.until_paid_since(0, 5, within=20)

            await getattr(proxy, outage)()
            down_at = time.monotonic()
            reads = {sales_client: ORDERS, catalog: f"{API}/products/{product}"}
            own = bearer(customers[0], settings)
            probes = await asyncio.gather(
                *(
                    load.timed(partial(client.get, path, headers=own))
                    for client, read in reads.items()
                    for path in ("/health", "/ready", read)
                )
            )
            await asyncio.sleep(1)  # the outage goes on under load
            await proxy.restore()
            up_at = time.monotonic()

            # Back by itself: nobody restarted the services.
            await load.until_paid_since(up_at, 5, within=10)
            load.stop.set()
            await asyncio.gather(*shoppers)
            after = [await catalog.get("/ready"), await catalog.get(f"{API}/products/{product}")]

    for service_probes in (probes[:3], probes[3:]):
        health_probe, ready_probe, read_probe = service_probes
        assert health_probe.status_code == 200
        assert_unavailable(ready_probe)
        assert_unavailable(read_probe)
    assert [r.status_code for r in after] == [200, 200]

    during = [c for c in load.calls if down_at <= c.started < up_at]
    assert len(during) >= SHOPPERS  # the outage really was under load
    for call in during:
        if call.response.url.path != "/health" and call.started + call.elapsed < up_at:
            assert_unavailable(call.response)
    slowest = max(call.elapsed for call in during)
    assert slowest < BOUNDS[outage], f"a request took {slowest:.2f}s while the database was away"

    # No half-written order or stock movement, whatever the cut interrupted.
    await assert_ledgers_reconcile(committed_database)
    async with committed_database.session_factory() as session:
        statuses = set((await session.scalars(select(CustomerOrder.status))).all())
        pending = await session.scalar(
            select(func.count()).where(CustomerOrder.status == "pending")
        )
        holding = await session.scalar(
            select(func.count()).where(StockReservation.status == "active")
        )
        on_hand = await session.scalar(select(Product.stock_on_hand).where(Product.id == product))
        sold = await session.scalar(select(func.coalesce(func.sum(Sale.quantity), 0)))
        spent = await session.scalar(
            select(func.sum(Decimal("400.00") - UserAccount.wallet_balance)).where(
                UserAccount.id.in_([c.id for c in customers])
            )
        )
    assert statuses <= {"pending", "paid"}
    assert pending == holding  # every unpaid order still holds its stock, and nothing else does
    assert on_hand == STOCK - sold
    assert spent == Decimal("4.00") * sold
