"""`outbox`: what writing events costs the hottest writes. `POST /api/v1/sales` and an order
placed and paid (`POST /orders` + `POST /orders/{id}/pay`) through the real sales service, next
to the same service with the outbox switched off (`bench.no_outbox`), in the same run, on the
same store. The dispatcher runs in the measured service as deployed (no subscriptions: it
marks each event fanned out). Target: the outbox costs at most 10% of throughput.
"""

from __future__ import annotations

import argparse

from bench import api, harness, orders

NO_OUTBOX_APP = "bench.no_outbox:app"
# A store of its own (the request-path one's shape), so other scenarios' runs do not mix in.
DATABASE = "bench_outbox"
TARGET = 0.9


async def _pair(
    args: argparse.Namespace,
    url: str,
    title: str,
    with_outbox: api.Contender,
    without: api.Contender,
    expected: tuple[int, ...],
) -> None:
    # Without, with, without again: the baseline is the mean of the runs around the measured
    # one, so a machine that slows down during the run does not flatter either side.
    first = await api._measure(args, url, without, concurrency=api.SALE_CLIENTS, expected=expected)
    result = await api._measure(
        args, url, with_outbox, concurrency=api.SALE_CLIENTS, expected=expected
    )
    second = await api._measure(args, url, without, concurrency=api.SALE_CLIENTS, expected=expected)
    baseline = first if first.rps >= second.rps else second
    ratio = result.rps / ((first.rps + second.rps) / 2)
    harness.print_table(
        f"outbox: {title}, {api.SALE_CLIENTS} clients on {api.HOT_PRODUCTS} hot products",
        [first, result, second],
        baseline=baseline,
        ratio="throughput",
        notes=f"with the outbox at {ratio:.2f}x of without (mean of the runs around it); "
        f"target >= {TARGET}x: {'met' if ratio >= TARGET else 'MISSED'}",
    )


async def run(args: argparse.Namespace) -> None:
    url = await harness.demo_database(args, DATABASE, api.STORE, quiet=True)
    await api._restock_hot_products(url, units=8 * (args.requests + 100))
    sell = api._sell("/api/v1/sales")
    await _pair(
        args,
        url,
        "POST /api/v1/sales",
        api.Contender("POST /sales, outbox", api.SALES_APP, sell, admin=True),
        api.Contender("POST /sales, no outbox", NO_OUTBOX_APP, sell, admin=True),
        expected=(201,),
    )
    customers = await orders._customers(url)
    order = orders._order_and_pay(customers)
    await _pair(
        args,
        url,
        "order placed and paid",
        api.Contender("order + pay, outbox", api.SALES_APP, order),
        api.Contender("order + pay, no outbox", NO_OUTBOX_APP, order),
        expected=(200,),
    )
