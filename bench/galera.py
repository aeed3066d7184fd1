"""`galera`: `POST /sales` on a local three-node Galera cluster (deploy/galera/local-cluster.sh),
clients spread over one sales service per node, next to one sales service on one node of the
same cluster in the same run; the conflicts between nodes (certification failures and
brute-force aborts, each one rerun by the service) are counted per run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shutil
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

from bench import api, harness
from common.ops.demo.options import DemoOptions

SCRIPT = harness.ROOT / "deploy" / "galera" / "local-cluster.sh"
DATABASE = "bench_galera"
# A small store: the scenario measures the write path, and every seeded row crosses the cluster.
STORE = DemoOptions(products=200, days=7, sales=500, customers=5, orders=0, seed=11)
# What a service on a Galera node runs with (docs/scaling.md).
ON_GALERA = {"DB_WSREP_SYNC_WAIT": "1", "DB_RETRY_ATTEMPTS": "10"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("galera")
    group.add_argument(
        "--galera-base-port", type=int, default=26000, help="first of the cluster's 43 ports"
    )


async def run_script(directory: Path, base_port: int, *arguments: str) -> list[str]:
    """One command of local-cluster.sh on the cluster under `directory`; its output lines
    (URLs). A failure raises with the script's message (the end of the node's error log)."""
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT), arguments[0], str(directory), *arguments[1:],
        env={**os.environ, "GALERA_BASE_PORT": str(base_port)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"local-cluster.sh {' '.join(arguments)}: {err.decode()}")
    return out.decode().split()


async def _conflicts(node_urls: list[str]) -> int:
    total = 0
    for url in node_urls:
        connection = await harness.connect(url, None)
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(
                    "SHOW GLOBAL STATUS WHERE Variable_name IN"
                    " ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')"
                )
                total += sum(int(value) for _, value in await cursor.fetchall())
        finally:
            connection.close()
    return total


def _sell_through(clients: list[httpx.AsyncClient]) -> harness.Send:
    """Sales of one unit of a hot product, each through the next node's service in turn."""
    turns = itertools.cycle(clients)

    async def send(_client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        body = {"product_id": rng.randint(1, api.HOT_PRODUCTS), "quantity": 1}
        return await next(turns).post("/api/v1/sales", json=body)

    return send


async def _measure(
    args: argparse.Namespace, name: str, node_urls: list[str], database_urls: list[str]
) -> harness.Result:
    headers = await harness.admin_headers(database_urls[0])
    async with AsyncExitStack() as stack:
        services = [
            await stack.enter_async_context(
                harness.running(f"sales on node {node}", api.SALES_APP, url, env=ON_GALERA)
            )
            for node, url in enumerate(database_urls, start=1)
        ]
        clients = [
            await stack.enter_async_context(
                harness.client_for(service, concurrency=api.SALE_CLIENTS, headers=headers)
            )
            for service in services
        ]
        before = await _conflicts(node_urls)
        result = await harness.measure(
            clients[0],
            name,
            _sell_through(clients),
            concurrency=api.SALE_CLIENTS,
            requests=args.requests,
            seconds=args.seconds,
            expected=(201,),
        )
        result.extra["conflicts rerun"] = str(await _conflicts(node_urls) - before)
    return result


async def run(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="bench-galera-"))
    base = args.galera_base_port
    try:
        await run_script(directory, base, "start")
        node_urls = [f"mysql+aiomysql://root@127.0.0.1:{base + node}/" for node in (1, 2, 3)]
        seeded = argparse.Namespace(**{**vars(args), "server_url": node_urls[0], "reuse": False})
        await harness.demo_database(seeded, DATABASE, STORE, quiet=True)
        database_urls = [harness.database_url(url, DATABASE) for url in node_urls]
        await api._restock_hot_products(database_urls[0], units=4 * (args.requests + 100))
        one = await _measure(args, "1 node (one sales service)", node_urls, database_urls[:1])
        three = await _measure(
            args, "3 nodes (a sales service on each, clients spread)", node_urls, database_urls
        )
    finally:
        await run_script(directory, base, "stop")
        shutil.rmtree(directory, ignore_errors=True)
    harness.print_table(
        f"galera: {api.SALE_CLIENTS} clients selling 1 unit of {api.HOT_PRODUCTS} hot products",
        [one, three],
        baseline=one,
        ratio="throughput",
        notes="every service with DB_WSREP_SYNC_WAIT=1 and DB_RETRY_ATTEMPTS=10; "
        "conflicts: certification failures + brute-force aborts over all nodes in the run",
    )
