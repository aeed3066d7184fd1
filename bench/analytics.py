"""Analytics scenario: the dashboard's year reports at 100,000 and 1,000,000 sales (and
10,000,000 with `--analytics-10m`), from the API and from a plain GROUP BY over `sale`.

Each size is a demo store of 1,000 products over a year, seeded by `common.ops.demo`. Reports are
timed one at a time (the latency of one report, not throughput): `GET /analytics/revenue
?interval=day` for the whole year, and `GET /analytics/revenue/by-category
?compare=previous_period`. Next to each, the same figures computed straight from `sale` with
the raw driver; the API's totals are checked against them.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import aiomysql

from bench import harness
from common.ops.demo.generator import DemoOptions

PRODUCTS = 1000
DAYS = 365
SIZES = (100_000, 1_000_000)
LARGE = 10_000_000

# What the API reports per bucket or category, from the raw rows.
METRICS = (
    "SUM(CASE WHEN kind = 'sale' THEN revenue ELSE 0 END) AS revenue, "
    "SUM(CASE WHEN kind = 'refund' THEN -revenue ELSE 0 END) AS refunds, "
    "SUM(cost) AS cost, "
    "SUM(CASE WHEN kind = 'sale' THEN quantity ELSE 0 END) AS units_sold, "
    "SUM(CASE WHEN kind = 'refund' THEN -quantity ELSE 0 END) AS units_refunded, "
    "SUM(kind = 'sale') AS sales_count"
)
BY_DAY = (
    f"SELECT business_date AS bucket, {METRICS} FROM sale "  # noqa: S608 (constants only)
    "WHERE business_date BETWEEN %s AND %s GROUP BY business_date"
)
BY_CATEGORY = (
    f"SELECT category_id AS bucket, {METRICS} FROM sale "  # noqa: S608 (constants only)
    "WHERE business_date BETWEEN %s AND %s GROUP BY category_id"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("analytics")
    group.add_argument(
        "--analytics-10m", action="store_true", help="also seed and time 10,000,000 sales"
    )
    group.add_argument("--analytics-repeat", type=int, default=15, help="timings per report")


async def _raw_report(
    connection: aiomysql.Connection, query: str, periods: list[tuple[date, date]]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with connection.cursor(aiomysql.DictCursor) as cursor:
        for start, end in periods:
            await cursor.execute(query, (start, end))
            rows += await cursor.fetchall()
    # A snapshot per call, as the API's read session sees one.
    await connection.commit()
    return rows


async def _last_day(connection: aiomysql.Connection) -> date:
    """The seeded history's last day (a reused database may be from an earlier day)."""
    async with connection.cursor() as cursor:
        await cursor.execute("SELECT MAX(business_date) FROM sale")
        (last,) = await cursor.fetchone()
    await connection.commit()
    assert isinstance(last, date)
    return last


async def run(args: argparse.Namespace) -> None:
    sizes = (*SIZES, LARGE) if args.analytics_10m else SIZES
    results: list[harness.Result] = []
    report_times: dict[tuple[str, int], float] = {}
    for sales in sizes:
        for key, result in await _time_reports(args, sales):
            report_times[key, sales] = result.p50
            results.append(result)
    harness.print_table(
        f"analytics: year reports over {PRODUCTS} products, one request at a time",
        results,
        baseline=results[0],
        ratio="latency",
        notes=_verdict(report_times, sizes),
    )


def store_options(sales: int) -> DemoOptions:
    """The analytics store: only counter sales (no customers, so no orders), one seed."""
    return DemoOptions(products=PRODUCTS, days=DAYS, sales=sales, customers=0, orders=0, seed=3)


async def _time_reports(args: argparse.Namespace, sales: int) -> list[tuple[str, harness.Result]]:
    """Each report timed on a store of `sales` sales, keyed `day`, `raw day`, `category`,
    `raw category`."""
    name = f"bench_analytics_{sales // 1000}k"
    url = await harness.demo_database(args, name, store_options(sales))
    connection = await harness.connect(args.server_url, name)
    try:
        end = await _last_day(connection)
        start = end - timedelta(days=DAYS - 1)
        previous = (start - timedelta(days=DAYS), start - timedelta(days=1))
        period = f"start={start}&end={end}"
        headers = await harness.admin_headers(url)
        async with (
            harness.running("sales", "sales_microservice.main:app", url) as service,
            harness.client_for(service, concurrency=1, headers=headers) as client,
        ):

            async def api(path: str) -> dict[str, Any]:
                response = await client.get(path)
                response.raise_for_status()
                body: dict[str, Any] = response.json()
                return body

            by_day = f"/api/v1/analytics/revenue?interval=day&{period}"
            by_category = f"/api/v1/analytics/revenue/by-category?compare=previous_period&{period}"
            _check_same_figures(
                await api(by_day), await _raw_report(connection, BY_DAY, [(start, end)])
            )
            timed: list[tuple[str, str, Callable[[], Awaitable[object]]]] = [
                ("API revenue by day", "day", lambda: api(by_day)),
                (
                    "raw GROUP BY day",
                    "raw day",
                    lambda: _raw_report(connection, BY_DAY, [(start, end)]),
                ),
                ("API by category, previous period", "category", lambda: api(by_category)),
                (
                    "raw GROUP BY category, both periods",
                    "raw category",
                    lambda: _raw_report(connection, BY_CATEGORY, [(start, end), previous]),
                ),
            ]
            measured = []
            for title, key, call in timed:
                result = await harness.time_calls(
                    f"{title}, {sales:,} sales", call, repeat=args.analytics_repeat
                )
                if not key.startswith("raw"):
                    result.peak_rss_mib = service.peak_rss_mib
                measured.append((key, result))
            return measured
    finally:
        connection.close()


def _check_same_figures(report: dict[str, Any], raw: list[dict[str, Any]]) -> None:
    """The API's totals equal the raw GROUP BY's, or the timing comparison means nothing."""
    revenue = sum((Decimal(row["revenue"]) for row in raw), Decimal("0"))
    sales_count = sum(int(row["sales_count"]) for row in raw)
    totals = report["totals"]
    if Decimal(totals["revenue"]) != revenue or totals["sales_count"] != sales_count:
        raise RuntimeError(f"API totals {totals} differ from raw {revenue}, {sales_count}")


def _verdict(times: dict[tuple[str, int], float], sizes: tuple[int, ...]) -> str:
    small, large = SIZES
    lines = []
    for key, what in (("day", "revenue by day"), ("category", "by category")):
        growth = times[key, large] / times[key, small]
        speedup = times[f"raw {key}", large] / times[key, large]
        lines.append(
            f"{what}: 10x the sales costs {growth:.2f}x the time (target < 2x: "
            f"{'met' if growth < 2 else 'MISSED'}); at {large:,} sales the API is "
            f"{speedup:.1f}x faster than the raw GROUP BY (target >= 10x: "
            f"{'met' if speedup >= 10 else 'MISSED'})"
        )
    if LARGE in sizes:
        lines += [
            f"at {LARGE:,} sales: API {times[key, LARGE]:.1f} ms, raw "
            f"{times[f'raw {key}', LARGE]:.1f} ms ({key})"
            for key in ("day", "category")
        ]
    return "\n".join(lines)
