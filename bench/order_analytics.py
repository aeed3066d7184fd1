"""Order analytics scenario: the year-by-month orders and customers reports and the year's
monthly cohorts at 100,000 and 1,000,000 orders, one request at a time.

Each size is its own database (`bench_order_analytics_100k`, `..._1m`), generated in SQL with
INSERT ... SELECT over MariaDB's sequence tables (seconds, not minutes): one customer per ten
orders, orders spread evenly over a year, 80% paid (a tenth of them refunded later), 10%
cancelled, the rest left to expire. The order rollups are built in SQL too (a GROUP BY each),
checked for a month against `common.orders.rollups`' own computation from the orders, and the
API's totals against a plain COUNT over `customer_order`, before anything is timed.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench import harness
from common.db import Database
from common.orders.rollups import order_mismatches

SIZES = (100_000, 1_000_000)
ORDERS_PER_CUSTOMER = 10
YEAR_START = date(2025, 1, 1)
SECONDS_A_YEAR = 365 * 86400
COHORT_TARGET_MS = 1000

GENERATE = (
    # One category and product, one reservation the orders point at.
    "INSERT INTO category (id, name, name_key, slug, created_at, updated_at) "
    "VALUES (1, 'Bench', 'bench', 'bench', NOW(6), NOW(6))",
    "INSERT INTO product (id, sku, name, category_id, price, status, low_stock_threshold, "
    "stock_on_hand, rating_count, rating_total, created_at, updated_at) VALUES (1, 'BENCH-1', "
    "'Bench', 1, 10.00, 'active', 0, 0, 0, 0, NOW(6), NOW(6))",
    "INSERT INTO stock_reservation (id, status, expires_at, created_at, updated_at) "
    "VALUES (1, 'confirmed', NOW(6), NOW(6), NOW(6))",
    "INSERT INTO user_account (id, email, email_key, full_name, password_hash, role, "
    "is_active, wallet_balance, orders_count, lifetime_spend, created_at, updated_at) "
    "SELECT seq, CONCAT('buyer', seq, '@bench.example'), CONCAT('buyer', seq, '@bench.example'), "
    "CONCAT('Buyer ', seq), 'x', "
    "'customer', 1, 0, 0, 0, NOW(6), NOW(6) FROM seq_1_to_{customers}",
    # Order n: placed at n/N of the year, by a customer picked by a multiplicative hash;
    # paid a minute later (n % 10 < 8), cancelled (8) or left to expire (9).
    "INSERT INTO customer_order (id, customer_id, status, total, shipping_address, "
    "reservation_id, expires_at, created_at, paid_at, updated_at) "
    "SELECT seq, 1 + (seq * 7919) % {customers}, "
    "CASE WHEN seq % 10 = 8 THEN 'cancelled' WHEN seq % 10 = 9 THEN 'expired' "
    "WHEN seq % 100 < 8 THEN 'refunded' ELSE 'delivered' END, "
    "10 + seq % 90, '1 Bench Street', 1, placed + INTERVAL 15 MINUTE, placed, "
    "IF(seq % 10 < 8, placed + INTERVAL 60 SECOND, NULL), placed "
    "FROM (SELECT seq, TIMESTAMP('{start}') + INTERVAL "
    "(seq * {seconds} DIV {orders}) SECOND AS placed FROM seq_1_to_{orders}) AS numbered",
    "INSERT INTO order_item (order_id, product_id, quantity, unit_price, line_total) "
    "SELECT id, 1, 1, total, total FROM customer_order",
    "INSERT INTO order_status_change (order_id, from_status, to_status, created_at) "
    "SELECT id, NULL, 'pending', created_at FROM customer_order",
    "INSERT INTO order_status_change (order_id, from_status, to_status, created_at) "
    "SELECT id, 'pending', 'paid', paid_at FROM customer_order WHERE paid_at IS NOT NULL",
    "INSERT INTO order_status_change (order_id, from_status, to_status, created_at) "
    "SELECT id, 'pending', 'cancelled', created_at + INTERVAL 5 MINUTE FROM customer_order "
    "WHERE status = 'cancelled'",
    "INSERT INTO order_status_change (order_id, from_status, to_status, created_at) "
    "SELECT id, 'paid', 'refunded', paid_at + INTERVAL 3 DAY FROM customer_order "
    "WHERE status = 'refunded'",
    # The rollups, as `common.orders.rollups` defines them, in one GROUP BY each: the bench
    # store is on UTC, so a store day is DATE() of the instant. (A rebuild through the API
    # reads a day at a time and takes minutes here; `_check_rollups` holds this to it.)
    # Each grouped by day (a few hundred groups: the temporary table stays in memory).
    "INSERT INTO order_daily (business_date, orders_placed, orders_paid, paid_revenue, "
    "units_paid, orders_cancelled, orders_refunded, refunded_revenue) "
    "SELECT DATE(created_at), COUNT(*), 0, 0, 0, 0, 0, 0 FROM customer_order "
    "GROUP BY DATE(created_at)",
    "INSERT INTO order_daily (business_date, orders_placed, orders_paid, paid_revenue, "
    "units_paid, orders_cancelled, orders_refunded, refunded_revenue) "
    "SELECT DATE(paid_at) AS day, 0, COUNT(*), SUM(total), COUNT(*), 0, 0, 0 "
    "FROM customer_order WHERE paid_at IS NOT NULL GROUP BY day ON DUPLICATE KEY UPDATE "
    "orders_paid = VALUES(orders_paid), paid_revenue = VALUES(paid_revenue), "
    "units_paid = VALUES(units_paid)",
    "INSERT INTO order_daily (business_date, orders_placed, orders_paid, paid_revenue, "
    "units_paid, orders_cancelled, orders_refunded, refunded_revenue) "
    "SELECT DATE(c.created_at) AS day, 0, 0, 0, 0, SUM(c.to_status = 'cancelled'), "
    "SUM(c.to_status = 'refunded'), SUM(IF(c.to_status = 'refunded', o.total, 0)) "
    "FROM order_status_change AS c JOIN customer_order AS o ON o.id = c.order_id "
    "WHERE c.to_status IN ('cancelled', 'refunded') GROUP BY day ON DUPLICATE KEY UPDATE "
    "orders_cancelled = VALUES(orders_cancelled), orders_refunded = VALUES(orders_refunded), "
    "refunded_revenue = VALUES(refunded_revenue)",
    *(
        "INSERT INTO customer_daily (business_date, customer_id, orders_paid, paid_spend, "  # noqa: S608 (constants only)
        "refunded_spend) SELECT DATE(paid_at), customer_id, COUNT(*), SUM(total), "
        "SUM(IF(status = 'refunded', total, 0)) FROM customer_order "
        f"WHERE paid_at >= '{{year}}-{month:02d}-01' "
        f"AND paid_at < '{{year}}-{month:02d}-01' + INTERVAL 1 MONTH "
        "GROUP BY DATE(paid_at), customer_id"
        for month in range(1, 13)
    ),
    "INSERT INTO customer_daily (business_date, customer_id, orders_paid, paid_spend, "
    "refunded_spend) SELECT DATE(paid_at), customer_id, COUNT(*), SUM(total), "
    "SUM(IF(status = 'refunded', total, 0)) FROM customer_order "
    "WHERE paid_at >= '{year}-01-01' + INTERVAL 1 YEAR GROUP BY DATE(paid_at), customer_id",
    "UPDATE user_account AS a JOIN (SELECT customer_id, SUM(paid_at IS NOT NULL) AS paid, "
    "SUM(IF(paid_at IS NOT NULL AND status <> 'refunded', total, 0)) AS spend, "
    "MAX(created_at) AS last_order, DATE(MIN(paid_at)) AS first_paid FROM customer_order "
    "GROUP BY customer_id) AS o ON o.customer_id = a.id SET a.orders_count = o.paid, "
    "a.lifetime_spend = o.spend, a.last_order_at = o.last_order, "
    "a.first_paid_date = o.first_paid",
)


async def _seed(args: argparse.Namespace, orders: int) -> str:
    name = f"bench_order_analytics_{orders // 1000}k"
    if args.reuse and await harness.database_exists(args.server_url, name):
        return harness.database_url(args.server_url, name)
    url = await harness.recreate_database(args.server_url, name)
    started = time.perf_counter()
    connection = await harness.connect(args.server_url, name)
    try:
        async with connection.cursor() as cursor:
            for statement in GENERATE:
                await cursor.execute(
                    statement.format(
                        customers=orders // ORDERS_PER_CUSTOMER,
                        orders=orders,
                        start=datetime.combine(YEAR_START, datetime.min.time()),
                        seconds=SECONDS_A_YEAR,
                        year=YEAR_START.year,
                    )
                )
        await connection.commit()
    finally:
        connection.close()
    generated = time.perf_counter() - started
    await _check_rollups(url)
    print(f"seeded {name}: {orders:,} orders and their rollups in {generated:.0f} s")
    await harness.analyze(
        args.server_url, name, ("customer_order", "order_daily", "customer_daily", "user_account")
    )
    return url


async def _check_rollups(url: str) -> None:
    """The SQL-built rollups of a month equal what `common.orders.rollups` computes from the
    raw orders, or the timings would be of other figures."""
    settings = harness.settings_for(url)
    database = Database.from_settings(settings)
    try:
        async with database.session_factory() as session:
            found = await order_mismatches(
                session,
                start=YEAR_START,
                end=YEAR_START + timedelta(days=30),
                timezone=settings.timezone,
            )
    finally:
        await database.dispose()
    if found:
        raise RuntimeError(f"generated rollups differ from the orders: {found[:5]}")


async def _raw_placed(args: argparse.Namespace, name: str, start: date, end: date) -> int:
    """Orders placed in the year, counted straight from `customer_order` (UTC store)."""
    connection = await harness.connect(args.server_url, name)
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(
                "SELECT COUNT(*) FROM customer_order WHERE created_at >= %s AND created_at < %s",
                (start, end + timedelta(days=1)),
            )
            (count,) = await cursor.fetchone()
    finally:
        connection.close()
    return int(count)


async def _time_reports(args: argparse.Namespace, orders: int) -> list[harness.Result]:
    url = await _seed(args, orders)
    name = f"bench_order_analytics_{orders // 1000}k"
    start, end = YEAR_START, date(YEAR_START.year, 12, 31)
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

        by_month = f"/api/v1/analytics/orders?interval=month&{period}"
        placed = (await api(by_month))["totals"]["orders_placed"]
        raw = await _raw_placed(args, name, start, end)
        if placed != raw:
            raise RuntimeError(f"the orders report counts {placed} orders placed, the rows {raw}")
        timed = [
            ("orders by month", by_month),
            ("customers by month", f"/api/v1/analytics/customers?interval=month&{period}"),
            ("cohorts by month", f"/api/v1/analytics/cohorts?period=month&{period}"),
        ]
        results = []
        for title, path in timed:
            result = await harness.time_calls(
                f"{title}, {orders:,} orders",
                lambda path=path: api(path),  # type: ignore[misc]
                repeat=args.analytics_repeat,
            )
            result.peak_rss_mib = service.peak_rss_mib
            results.append(result)
        return results


async def run(args: argparse.Namespace) -> None:
    measured = {orders: await _time_reports(args, orders) for orders in SIZES}
    small, large = (measured[size] for size in SIZES)
    lines = []
    for index, what in enumerate(("orders", "customers")):
        growth = large[index].p50 / small[index].p50
        lines.append(
            f"{what} by month: 10x the orders costs {growth:.2f}x the time (target <= 2x: "
            f"{'met' if growth <= 2 else 'MISSED'})"
        )
    cohorts = large[2].p50
    lines.append(
        f"cohorts over a year at {SIZES[-1]:,} orders: {cohorts:.0f} ms (target well under "
        f"{COHORT_TARGET_MS} ms: {'met' if cohorts < COHORT_TARGET_MS / 2 else 'MISSED'})"
    )
    results = [*small, *large]
    harness.print_table(
        f"order analytics: year reports, one request at a time ({datetime.now(UTC):%H:%M} UTC)",
        results,
        baseline=results[0],
        ratio="latency",
        notes="\n".join(lines),
    )
