"""Export and roll-forward scenarios, on a ledger seeded like the catalog scenario's (10,000
products x 100 movements = 1,000,000 movements over a year by default, in its own database
`bench_exports`; `--reuse` keeps an earlier seed).

- `export`: streams `GET /exports/inventory-movements` (every movement, CSV) from the products
  service while four clients keep reading `GET /products/{id}`; reports the rows and bytes
  sent, the time, the service's peak RSS (target: under 200 MiB) and the primary-key reads'
  latency during the export against the same reads before it (other requests answering).
- `roll-forward`: `GET /inventory/roll-forward` over the last 365 store days of every product
  (a page of 50; the totals cover all of them), timed one call at a time against the
  primary-key read, with the totals checked to add up.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

import httpx

from bench import catalog, harness

# Its own database (the catalog scenario's seed, under another name): runs never collide.
DATABASE = "bench_exports"
PROBES = 4
RSS_TARGET_MIB = 200
KINDS = ("initial", "restock", "import", "return", "sale", "damage", "adjustment", "correction")


async def _ledger_url(args: argparse.Namespace) -> str:
    if args.reuse and await harness.database_exists(args.server_url, DATABASE):
        return harness.database_url(args.server_url, DATABASE)
    return await catalog.seed(
        args.server_url, args.products, args.movements_per_product, database=DATABASE
    )


def _pk_read(products: int) -> harness.Send:
    return harness.get(lambda r: f"/api/v1/products/{r.randint(1, products)}")


async def _stream(client: httpx.AsyncClient, path: str) -> tuple[int, int, float]:
    """(rows, bytes, seconds) of one streamed download."""
    started = time.perf_counter()
    lines = size = 0
    async with client.stream("GET", path) as response:
        if response.status_code != 200:
            await response.aread()
            raise RuntimeError(f"{path} -> {response.status_code} {response.text[:300]}")
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    return lines - 1, size, time.perf_counter() - started


async def _probe_while(
    client: httpx.AsyncClient, send: harness.Send, running: asyncio.Task[object], name: str
) -> harness.Result:
    """Primary-key reads from `PROBES` clients for as long as `running` runs."""
    rng = random.Random(11)
    latencies: list[float] = []
    started = time.perf_counter()

    async def worker() -> None:
        while not running.done():
            sent = time.perf_counter()
            response = await send(client, rng)
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
            latencies.append((time.perf_counter() - sent) * 1000)

    await asyncio.gather(*(worker() for _ in range(PROBES)))
    return harness.Result(name, len(latencies), time.perf_counter() - started, latencies)


async def export_ledger(args: argparse.Namespace) -> None:
    url = await _ledger_url(args)
    headers = await harness.admin_headers(url)
    send = _pk_read(args.products)
    async with (
        harness.running("products", "products_microservice.main:app", url) as service,
        harness.client_for(service, concurrency=PROBES + 1, headers=headers) as client,
    ):
        before = await harness.measure(
            client,
            "GET /products/{id}, nothing else running",
            send,
            concurrency=PROBES,
            requests=args.requests,
            seconds=min(args.seconds, 10),
            service=service,
        )
        idle_rss = service.peak_rss_mib
        export = asyncio.create_task(_stream(client, "/api/v1/exports/inventory-movements"))
        during = await _probe_while(client, send, export, "GET /products/{id}, during the export")
        rows, size, seconds = await export
        service.sample()
    during.peak_rss_mib = service.peak_rss_mib
    expected = args.products * args.movements_per_product
    during.extra = {
        "rows exported": f"{rows}",
        "MiB": f"{size / harness.MIB:.0f}",
        "export s": f"{seconds:.1f}",
        "rows/s": f"{rows / seconds:.0f}",
    }
    harness.print_table(
        f"export: {expected} ledger rows as CSV, {PROBES} clients reading meanwhile",
        [before, during],
        baseline=before,
        ratio="latency",
        notes=(
            f"service RSS: {idle_rss:.0f} MiB idle, {service.peak_rss_mib:.0f} MiB peak "
            f"(target < {RSS_TARGET_MIB} MiB: "
            f"{'met' if service.peak_rss_mib < RSS_TARGET_MIB else 'MISSED'}); "
            f"rows {'complete' if rows == expected else f'MISSING: {expected - rows}'}"
        ),
    )


async def roll_forward(args: argparse.Namespace) -> None:
    url = await _ledger_url(args)
    headers = await harness.admin_headers(url)
    today = datetime.now(UTC).date()
    path = (
        f"/api/v1/inventory/roll-forward?start={today - timedelta(days=364)}&end={today}&limit=50"
    )
    async with (
        harness.running("products", "products_microservice.main:app", url) as service,
        harness.client_for(service, concurrency=1, headers=headers) as client,
    ):
        baseline = await harness.measure(
            client,
            "GET /products/{id} (PK read)",
            _pk_read(args.products),
            concurrency=1,
            requests=min(args.requests, 500),
            seconds=min(args.seconds, 10),
            service=service,
        )
        last: dict[str, object] = {}

        async def call() -> None:
            response = await client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"roll-forward -> {response.status_code} {response.text[:300]}")
            last.update(response.json())

        report = await harness.time_calls("GET /inventory/roll-forward (365 days)", call, repeat=3)
        service.sample()
        report.peak_rss_mib = service.peak_rss_mib
    totals = last["totals"]
    assert isinstance(totals, dict)
    adds_up = totals["opening_units"] + sum(totals[k] for k in KINDS) == totals["closing_units"]
    report.extra = {"products": f"{last['total']}", "totals add up": "yes" if adds_up else "NO"}
    harness.print_table(
        f"roll-forward: {args.products} products, "
        f"{args.products * args.movements_per_product} movements, a year",
        [baseline, report],
        baseline=baseline,
        ratio="latency",
    )
