"""The races of tests/e2e/test_replicas.py on a real three-node MariaDB Galera cluster: two
replicas of each service, each connected to a different node, so contenders for one row take
their row locks on different nodes and meet at commit, where the loser's certification
failure (1213) reruns its unit of work. Nothing oversells, no wallet pays twice, and every
ledger reconciles on every node."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from common.db import Database, build_engine
from common.db.types import utcnow
from common.models.catalog import Product
from common.models.identity import Role, UserAccount, WalletEntry
from common.models.inventory import StockReservation
from common.models.orders import CustomerOrder, OrderStatus, OrderStatusChange
from common.models.sales import Sale
from common.ops.sweeper import sweep
from tests.fixtures.clients import make_products
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import (
    API,
    ORDERS,
    bearer,
    create_category,
    make_account,
    order_body,
)
from tests.fixtures.galera import ClusterDatabase, LocalCluster
from tests.fixtures.imports import csv_bytes, upload
from tests.fixtures.ledgers import assert_ledgers_reconcile
from tests.fixtures.processes import PRODUCTS_APP, SALES_APP, ServiceProcess, round_robin, running
from tests.fixtures.races import outcomes, sell_and_correct, sell_one

# What a service on a Galera node is configured with (docs/scaling.md): reads wait for the
# node to catch up, so a client that wrote through one node reads it back through another.
# Hot rows written through several nodes conflict at commit more often than one server's row
# locks collide, so the cluster gets a larger retry budget.
ON_GALERA = {"DB_WSREP_SYNC_WAIT": "1", "DB_RETRY_ATTEMPTS": "10"}


class ClusterReplicas:
    """Sales on nodes 1 and 2, products on nodes 2 and 3."""

    def __init__(self, cluster: ClusterDatabase) -> None:
        def on(node: int, app: str) -> ServiceProcess:
            backend = cluster.backends[node - 1]
            return ServiceProcess(backend, app, environment=ON_GALERA)

        self.sales = [on(1, SALES_APP), on(2, SALES_APP)]
        self.products = [on(2, PRODUCTS_APP), on(3, PRODUCTS_APP)]


@pytest.fixture(scope="module")
async def replicas(galera_schema: ClusterDatabase) -> AsyncIterator[ClusterReplicas]:
    replicas = ClusterReplicas(galera_schema)
    async with running(*replicas.sales, *replicas.products):
        yield replicas


async def conflicts(cluster: ClusterDatabase) -> int:
    """Transactions the cluster aborted for a conflict between nodes, summed over the nodes:
    refused at certification, or brute-force aborted by a writeset applied from another node
    (both reach the client as 1213)."""
    total = 0
    for database in cluster.databases:
        async with database.engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SHOW GLOBAL STATUS WHERE Variable_name IN"
                    " ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')"
                )
            )
            total += sum(int(value) for _, value in rows)
    return total


async def assert_every_node_reconciles(cluster: ClusterDatabase) -> None:
    for database in cluster.databases:
        await assert_ledgers_reconcile(database)


async def stock_and_units_sold(database: Database, product: int) -> tuple[int | None, int]:
    async with database.session_factory() as session:
        stock = await session.scalar(select(Product.stock_on_hand).where(Product.id == product))
        sold = await session.scalar(select(func.coalesce(func.sum(Sale.quantity), 0)))
    return stock, int(sold or 0)


async def admin_headers(cluster: ClusterDatabase) -> dict[str, str]:
    admin = await make_account(cluster.first, cluster.settings, role=Role.admin)
    return bearer(admin, cluster.settings)


async def product_and_customers(
    cluster: ClusterDatabase, *, units: int, customers: int
) -> tuple[int, list[UserAccount]]:
    """A product with `units` in stock (price 4.00) and customers who can each pay one."""
    (product,) = await make_products(cluster.settings, cluster.first, units)
    accounts = [
        await make_account(cluster.first, cluster.settings, balance=Decimal("4.00"))
        for _ in range(customers)
    ]
    return product, accounts


async def test_fifty_clients_through_two_nodes_sell_exactly_twenty_units(
    replicas: ClusterReplicas, cluster_database: ClusterDatabase
) -> None:
    (product,) = await make_products(cluster_database.settings, cluster_database.first, 20)
    headers = await admin_headers(cluster_database)
    conflicts_before = await conflicts(cluster_database)

    async with round_robin(*replicas.sales) as sales:
        responses = await asyncio.gather(*(sell_one(sales, product, headers) for _ in range(50)))

    assert outcomes(responses) == {(201, ""): 20, (409, "insufficient_stock"): 30}
    for database in cluster_database.databases:
        assert await stock_and_units_sold(database, product) == (0, 20)
    await assert_every_node_reconciles(cluster_database)
    # The nodes really did collide (and the retries absorbed it): without conflicts this
    # would be the single-server race again.
    assert await conflicts(cluster_database) > conflicts_before


async def test_sales_and_corrections_through_three_nodes_never_oversell(
    replicas: ClusterReplicas, cluster_database: ClusterDatabase
) -> None:
    (product,) = await make_products(cluster_database.settings, cluster_database.first, 30)
    headers = await admin_headers(cluster_database)

    async with (
        round_robin(*replicas.sales) as sales,
        round_robin(*replicas.products) as products,
    ):
        responses = await sell_and_correct(sales, products, product, headers, 90)

    assert outcomes(responses) == {(201, ""): 30, (409, "insufficient_stock"): 60}
    sales_made = sum(1 for i, r in enumerate(responses) if i % 3 and r.status_code == 201)
    for database in cluster_database.databases:
        assert await stock_and_units_sold(database, product) == (0, sales_made)
    await assert_every_node_reconciles(cluster_database)


async def test_fifty_debits_of_the_whole_balance_through_two_nodes_pay_once(
    replicas: ClusterReplicas, cluster_database: ClusterDatabase
) -> None:
    settings = cluster_database.settings
    customer = await make_account(cluster_database.first, settings, balance=Decimal("25.00"))
    headers = await admin_headers(cluster_database)
    debits = f"{API}/customers/{customer.id}/wallet/debits"

    async with round_robin(*replicas.sales) as sales:

        async def debit() -> httpx.Response:
            body = {"amount": "25.00", "reason": "whole balance"}
            return await sales.next().post(debits, json=body, headers=headers)

        responses = await asyncio.gather(*(debit() for _ in range(50)))

    assert outcomes(responses) == {(201, ""): 1, (409, "insufficient_funds"): 49}
    for database in cluster_database.databases:
        async with database.session_factory() as session:
            balance = await session.scalar(
                select(UserAccount.wallet_balance).where(UserAccount.id == customer.id)
            )
            entries = await session.scalar(
                select(func.count()).where(WalletEntry.user_id == customer.id)
            )
        # The opening top-up and the one debit.
        assert (balance, entries) == (Decimal("0.00"), 2)
    await assert_every_node_reconciles(cluster_database)


async def test_sixty_customers_through_two_nodes_hold_exactly_twenty_five_units(
    replicas: ClusterReplicas, cluster_database: ClusterDatabase
) -> None:
    settings = cluster_database.settings
    product, customers = await product_and_customers(cluster_database, units=25, customers=60)

    async with round_robin(*replicas.sales) as sales:

        async def place(customer: UserAccount) -> httpx.Response:
            return await sales.next().post(
                ORDERS, json=order_body(product), headers=bearer(customer, settings)
            )

        placed = await asyncio.gather(*(place(customer) for customer in customers))
        assert outcomes(placed) == {(201, ""): 25, (409, "insufficient_stock"): 35}

        async def pay(customer: UserAccount, order: httpx.Response) -> httpx.Response:
            # Placed through one node and, in turn, usually paid through the other.
            return await sales.next().post(
                f"{ORDERS}/{order.json()['id']}/pay", headers=bearer(customer, settings)
            )

        paid = await asyncio.gather(
            *(pay(c, r) for c, r in zip(customers, placed, strict=True) if r.status_code == 201)
        )

    assert [r.status_code for r in paid] == [200] * 25
    for database in cluster_database.databases:
        async with database.session_factory() as session:
            stock = await session.scalar(select(Product.stock_on_hand).where(Product.id == product))
            spent = await session.scalar(
                select(func.count()).where(
                    UserAccount.id.in_([c.id for c in customers]), UserAccount.wallet_balance == 0
                )
            )
        assert (stock, spent) == (0, 25)
    await assert_every_node_reconciles(cluster_database)


@asynccontextmanager
async def operator_connection(
    cluster: ClusterDatabase, node: int
) -> AsyncIterator[AsyncConnection]:
    """A connection to one node that works even while the node is out of the cluster (dirty
    reads on, no `wsrep_sync_wait`), as an operator's client would open it."""
    url = make_url(cluster.backends[node - 1].url)
    url = url.update_query_dict({"init_command": "SET SESSION wsrep_dirty_reads = ON"})
    engine = build_engine(url, make_settings(str(url)))
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def node_status(cluster: ClusterDatabase, node: int, name: str) -> str:
    async with operator_connection(cluster, node) as connection:
        row = await connection.execute(text("SHOW GLOBAL STATUS LIKE :name"), {"name": name})
        return str(row.one()[1])


async def wait_for_status(
    cluster: ClusterDatabase,
    node: int,
    wanted: str,
    name: str = "wsrep_local_state_comment",
) -> None:
    """Until the node's status `name` reads `wanted`; the state (Synced, Donor/Desynced,
    Joining, Initialized) by default."""
    for _ in range(300):
        if await node_status(cluster, node, name) == wanted:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"node {node}'s {name} never became {wanted}")


async def test_a_node_cut_off_from_the_cluster_answers_unavailable_while_the_others_sell(
    replicas: ClusterReplicas, cluster_database: ClusterDatabase
) -> None:
    (product,) = await make_products(cluster_database.settings, cluster_database.first, 5)
    headers = await admin_headers(cluster_database)
    async with operator_connection(cluster_database, 3) as connection:
        # Node 3 leaves the primary component (as behind a network partition) and refuses
        # every statement with 1047 until it is back.
        await connection.execute(text("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'"))
    try:
        await wait_for_status(cluster_database, 3, "Initialized")
        node3 = httpx.AsyncClient(base_url=replicas.products[1].url, timeout=30)
        node1 = httpx.AsyncClient(base_url=replicas.sales[0].url, timeout=30)
        async with node3, node1:
            refused = await node3.get(f"{API}/products/{product}", headers=headers)
            ready = await node3.get("/ready")
            sold = await node1.post(
                f"{API}/sales", json={"product_id": product, "quantity": 1}, headers=headers
            )
        assert (refused.status_code, refused.headers["content-type"]) == (
            503,
            "application/problem+json",
        )
        assert refused.json()["code"] == "database_unavailable"
        assert ready.status_code == 503
        assert sold.status_code == 201
    finally:
        async with operator_connection(cluster_database, 3) as connection:
            await connection.execute(text("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'"))
    await wait_for_status(cluster_database, 3, "Synced")
    async with cluster_database.databases[2].session_factory() as session:
        stock = await session.scalar(select(Product.stock_on_hand).where(Product.id == product))
    assert stock == 4  # the sale made while it was away reached it when it came back


async def test_sweepers_on_two_nodes_expire_each_unpaid_order_once(
    replicas: ClusterReplicas, cluster_database: ClusterDatabase
) -> None:
    settings = cluster_database.settings
    product, customers = await product_and_customers(cluster_database, units=12, customers=12)
    async with round_robin(*replicas.sales) as sales:
        placed = await asyncio.gather(
            *(
                sales.next().post(ORDERS, json=order_body(product), headers=bearer(c, settings))
                for c in customers
            )
        )
    assert [r.status_code for r in placed] == [201] * 12
    async with cluster_database.first.session_factory() as session:
        past = utcnow() - timedelta(minutes=1)
        await session.execute(update(CustomerOrder).values(expires_at=past))
        await session.execute(update(StockReservation).values(expires_at=past))
        await session.commit()

    # Each node's SKIP LOCKED sees only its own locks: both sweepers may claim one order, and
    # the loser's certification failure reruns its batch, which then finds it expired.
    results = await asyncio.gather(
        *(
            sweep(database, batch_size=3, settings=settings)
            for database in cluster_database.databases[1:]
        )
    )

    assert sum(result.orders_expired for result in results) == 12
    for database in cluster_database.databases:
        async with database.session_factory() as session:
            expired = await session.scalar(
                select(func.count()).where(OrderStatusChange.to_status == OrderStatus.EXPIRED.value)
            )
            still_pending = await session.scalar(
                select(func.count()).where(CustomerOrder.status != OrderStatus.EXPIRED.value)
            )
        assert (expired, still_pending) == (12, 0)
    await assert_every_node_reconciles(cluster_database)


IMPORT_HEADER = ["sku", "name", "category", "price", "cost_price", "stock"]


async def test_imports_through_two_nodes_at_once_write_every_row_once_on_every_node(
    replicas: ClusterReplicas, cluster_database: ClusterDatabase
) -> None:
    """Two catalog files imported at once through the products replicas on nodes 2 and 3,
    then each file again through the other node: every row written once, the second pass
    finds nothing to change, and stock and ledgers agree on all three nodes."""
    headers = await admin_headers(cluster_database)
    first, second = (
        httpx.AsyncClient(base_url=process.url, headers=headers, timeout=60)
        for process in replicas.products
    )
    async with first, second:
        await create_category(first, "Galera tea")
        files = [
            csv_bytes(
                [IMPORT_HEADER]
                + [
                    [f"GT-{half}-{n}", f"Tea {half}-{n}", "Galera tea", "3.50", "1.25", "4"]
                    for n in range(40)
                ]
            )
            for half in ("A", "B")
        ]
        reports = await asyncio.gather(upload(first, files[0]), upload(second, files[1]))
        again = await asyncio.gather(upload(second, files[0]), upload(first, files[1]))

    for response in (*reports, *again):
        assert response.status_code == 200, response.text
    assert [(r.json()["created"], r.json()["failed"]) for r in reports] == [(40, 0), (40, 0)]
    assert [(r.json()["unchanged"], r.json()["created"]) for r in again] == [(40, 0), (40, 0)]
    for database in cluster_database.databases:
        async with database.session_factory() as session:
            imported = (
                await session.execute(
                    select(func.count(), func.sum(Product.stock_on_hand)).where(
                        Product.sku.like("GT-%")
                    )
                )
            ).one()
        assert tuple(imported) == (80, 320)
    await assert_every_node_reconciles(cluster_database)


async def test_a_node_killed_mid_load_rejoins_by_ist_and_every_node_agrees(
    replicas: ClusterReplicas, cluster_database: ClusterDatabase, galera: LocalCluster
) -> None:
    # A product (of a category) of its own for each client: the conflicts here are the
    # crash's, not a hot row's (that race is the tests above).
    products = [
        (await make_products(cluster_database.settings, cluster_database.first, 100_000))[0]
        for _ in range(6)
    ]
    headers = await admin_headers(cluster_database)
    log_before = len(galera.error_log(3))
    # (phase the request started in: before, down (killed, not yet evicted), evicted, rejoining,
    # after; node its service is connected to, kind, product, response)
    seen: list[tuple[str, int, str, int, httpx.Response]] = []
    phase = "before"
    stop = asyncio.Event()

    async def load(process: ServiceProcess, node: int, kind: str, product: int) -> None:
        path, body = (
            (f"{API}/sales", {"product_id": product, "quantity": 1})
            if kind == "sale"
            else (
                f"{API}/products/{product}/inventory/adjustments",
                {"delta": -1, "kind": "correction"},
            )
        )
        async with httpx.AsyncClient(base_url=process.url, timeout=60) as client:
            while not stop.is_set():
                started_in = phase
                response = await client.post(path, json=body, headers=headers)
                seen.append((started_in, node, kind, product, response))
                if response.status_code >= 500:
                    await asyncio.sleep(0.05)  # as a client would back off, not spin

    async def crash_and_rejoin() -> None:
        nonlocal phase
        await asyncio.sleep(3)
        await galera.kill(3)
        phase = "down"
        # Writes pause until the others evict the silent node (evs.suspect_timeout), then go on.
        await wait_for_status(cluster_database, 1, "2", "wsrep_cluster_size")
        phase = "evicted"
        await asyncio.sleep(4)
        phase = "rejoining"
        await galera.rejoin(3)
        phase = "after"
        await asyncio.sleep(3)
        stop.set()

    await asyncio.gather(
        crash_and_rejoin(),
        load(replicas.sales[0], 1, "sale", products[0]),
        load(replicas.sales[0], 1, "sale", products[1]),
        load(replicas.sales[1], 2, "sale", products[2]),
        load(replicas.sales[1], 2, "sale", products[3]),
        load(replicas.products[0], 2, "correction", products[4]),
        load(replicas.products[1], 3, "correction", products[5]),
    )

    # Every answer is a success or a documented problem, never a 500.
    for *_, response in seen:
        if response.status_code != 201:
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] in {"database_unavailable", "database_busy"}
    by = Counter((started_in, node, r.status_code) for started_in, node, *_, r in seen)
    # Once node 3 was out of the cluster, both other nodes kept selling, with errors bounded...
    for node in (1, 2):
        assert by["evicted", node, 201] > 0
        failed = sum(n for (p, o, status), n in by.items() if o == node and status != 201)
        assert failed <= sum(n for (p, o, _), n in by.items() if o == node) // 50, by
    # ... and the service on node 3 answered 503 fast, then served again once it rejoined.
    assert by["down", 3, 201] + by["evicted", 3, 201] == 0 < by["evicted", 3, 503]
    assert by["after", 3, 201] > 0
    rejoined = galera.error_log(3)[log_before:]
    assert "IST received" in rejoined
    assert "SST completed on joiner" not in rejoined
    out = Counter(product for *_, product, r in seen if r.status_code == 201)
    sold = sum(1 for _, _, kind, _, r in seen if kind == "sale" and r.status_code == 201)
    for database in cluster_database.databases:
        async with database.session_factory() as session:
            stock = dict(
                (await session.execute(select(Product.id, Product.stock_on_hand))).tuples().all()
            )
            assert await session.scalar(select(func.count(Sale.id))) == sold
        assert stock == {product: 100_000 - out[product] for product in products}
    await assert_every_node_reconciles(cluster_database)
