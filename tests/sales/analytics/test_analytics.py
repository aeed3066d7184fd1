"""Analytics against an independent computation from generated sales.

A few thousand sales and refunds at random instants (fixed seed) across products, categories
and both DST changes of a non-UTC store; every report is compared with sums computed here, in
plain Python, from the generated rows, never from the rollup.
"""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from httpx import AsyncClient

from common.config import Settings
from common.db import Database
from common.models.identity import Role
from common.sales.service import record_refund, record_sale
from tests.fixtures.clients import client_for
from tests.fixtures.databases import make_settings, migrate
from tests.fixtures.factories import Catalog, money
from tests.fixtures.reports import independent_bucket

STORE = ZoneInfo("America/New_York")
SEED = 20251121
YEAR_START = datetime(2025, 1, 1, 5, tzinfo=UTC)  # local midnight, 1 January
# Instants around both 2025 DST changes and local midnights, where bucketing goes wrong first.
EDGES = [
    datetime(2025, 3, 9, 4, 59, tzinfo=UTC),  # 23:59 EST, 8 March
    datetime(2025, 3, 9, 5, 0, tzinfo=UTC),  # 00:00 EST, 9 March
    datetime(2025, 3, 9, 7, 0, tzinfo=UTC),  # 03:00 EDT, just after the jump
    datetime(2025, 3, 10, 3, 59, tzinfo=UTC),  # 23:59 EDT, 9 March
    datetime(2025, 11, 2, 5, 30, tzinfo=UTC),  # 01:30 EDT, first pass
    datetime(2025, 11, 2, 6, 30, tzinfo=UTC),  # 01:30 EST, second pass
    datetime(2025, 11, 3, 4, 59, tzinfo=UTC),  # 23:59 EST, 2 November
    datetime(2025, 12, 31, 23, 0, tzinfo=UTC),  # 18:00, 31 December
    datetime(2026, 1, 1, 4, 59, tzinfo=UTC),  # 23:59, 31 December local
]


@dataclass(frozen=True)
class Row:
    """One generated sale (quantity > 0) or refund (quantity < 0), as the test knows it."""

    product_id: int
    category_id: int
    quantity: int
    revenue: Decimal
    cost: Decimal
    local_day: date


@dataclass
class World:
    products: dict[int, int]  # product -> category
    categories: list[int]
    rows: list[Row]
    sales: AsyncClient


@pytest.fixture(scope="module")
async def world(
    backend_name: str, fresh_database_url: Callable[[str], Any]
) -> AsyncIterator[World]:
    """Generated once per backend in a database of its own: reports only read it."""
    url = await fresh_database_url(backend_name)
    await migrate(url)
    store_settings = make_settings(url, store_timezone=STORE.key)
    database = Database.from_settings(store_settings)
    try:
        async for generated in _generate(store_settings, database):
            yield generated
    finally:
        await database.dispose()


async def _generate(store_settings: Settings, database: Database) -> AsyncIterator[World]:
    rng = random.Random(SEED)
    async for products_client in client_for("products", store_settings, database, as_=Role.admin):
        catalog = Catalog(products_client)
        categories = [await catalog.category() for _ in range(4)]
        products = {}
        for index in range(12):
            category = categories[index % 3]  # the fourth category never sells
            price = money(rng.randint(199, 9999)) / 100
            product = await catalog.product(
                category_id=category,
                price=str(money(price)),
                cost_price=str(money(price * Decimal("0.6"))),
                stock=100_000,
            )
            products[product] = category
        rows: list[Row] = []
        async with database.session_factory() as session:
            instants = EDGES + [
                YEAR_START + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(1500)
            ]
            sold = []
            remaining: dict[int, int] = {}
            for moment in sorted(instants):
                product = rng.choice(list(products))
                quantity = rng.randint(1, 5)
                unit_price = None if rng.random() < 0.7 else money(rng.randint(100, 5000)) / 100
                sale = await record_sale(
                    session,
                    product_id=product,
                    quantity=quantity,
                    unit_price=unit_price,
                    sold_at=moment,
                    timezone=STORE,
                )
                sold.append(sale)
                remaining[sale.id] = sale.quantity
                rows.append(
                    _row(
                        sale.product_id,
                        sale.category_id,
                        sale.quantity,
                        sale.unit_price,
                        sale.unit_cost,
                        moment,
                    )
                )
                refundable = [s for s in sold if remaining[s.id] > 0]
                if rng.random() < 0.1 and refundable:
                    refunded = rng.choice(refundable)
                    back = rng.randint(1, remaining[refunded.id])
                    remaining[refunded.id] -= back
                    later = min(moment + timedelta(hours=rng.randint(1, 400)), EDGES[-1])
                    refund = await record_refund(
                        session, sale=refunded, quantity=back, refunded_at=later, timezone=STORE
                    )
                    assert refund.quantity == -back
                    rows.append(
                        _row(
                            refunded.product_id,
                            refunded.category_id,
                            -back,
                            refunded.unit_price,
                            refunded.unit_cost,
                            later,
                        )
                    )
            await session.commit()
        async for sales_client in client_for("sales", store_settings, database, as_=Role.admin):
            yield World(products=products, categories=categories, rows=rows, sales=sales_client)


def _row(
    product: int, category: int, quantity: int, price: Decimal, cost: Decimal, moment: datetime
) -> Row:
    return Row(
        product,
        category,
        quantity,
        price * quantity,
        cost * quantity,
        moment.astimezone(STORE).date(),
    )


def expected_metrics(rows: Iterable[Row]) -> dict[str, Any]:
    rows = list(rows)
    revenue = sum((r.revenue for r in rows if r.quantity > 0), Decimal(0))
    refunds = -sum((r.revenue for r in rows if r.quantity < 0), Decimal(0))
    cost = sum((r.cost for r in rows), Decimal(0))
    net = revenue - refunds
    profit = net - cost
    return {
        "revenue": money(revenue),
        "refunds": money(refunds),
        "net_revenue": money(net),
        "cost": money(cost),
        "profit": money(profit),
        "margin": None if net == 0 else money(profit / net * 100),
        "units": sum(r.quantity for r in rows),
        "sales_count": sum(1 for r in rows if r.quantity > 0),
    }


def reported_metrics(item: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (money(item[name]) if isinstance(item[name], str) else item[name])
        for name in (
            "revenue",
            "refunds",
            "net_revenue",
            "cost",
            "profit",
            "margin",
            "units",
            "sales_count",
        )
    }


def within(
    rows: list[Row], start: date, end: date, keep: Callable[[Row], bool] = lambda r: True
) -> list[Row]:
    return [r for r in rows if start <= r.local_day <= end and keep(r)]


@pytest.mark.parametrize("interval", ["day", "week", "month", "quarter", "year"])
async def test_revenue_buckets_and_totals_match_the_raw_sales(world: World, interval: str) -> None:
    start, end = date(2025, 1, 1), date(2025, 12, 31)
    response = await world.sales.get(
        "/api/v1/analytics/revenue",
        params={"interval": interval, "start": start.isoformat(), "end": end.isoformat()},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert reported_metrics(report["totals"]) == expected_metrics(within(world.rows, start, end))
    grouped: dict[date, list[Row]] = defaultdict(list)
    for row in within(world.rows, start, end):
        grouped[independent_bucket(interval, row.local_day)].append(row)
    keys = [independent_bucket(interval, date.fromisoformat(b["start"])) for b in report["buckets"]]
    assert len(keys) == len(set(keys))
    assert set(grouped) <= set(keys)
    for bucket, key in zip(report["buckets"], keys, strict=True):
        assert reported_metrics(bucket) == expected_metrics(grouped.get(key, [])), bucket["start"]
    assert report["buckets"][0]["start"] == "2025-01-01"
    assert report["buckets"][-1]["end"] == "2025-12-31"


async def test_dst_days_are_counted_in_store_time(world: World) -> None:
    response = await world.sales.get(
        "/api/v1/analytics/revenue",
        params={"interval": "day", "start": "2025-11-02", "end": "2025-11-02"},
    )
    expected = expected_metrics(within(world.rows, date(2025, 11, 2), date(2025, 11, 2)))
    assert reported_metrics(response.json()["totals"]) == expected
    assert expected["sales_count"] >= 3  # both 01:30s and 23:59 fall on that local day


async def test_filters_by_product_and_category(world: World) -> None:
    product = next(iter(world.products))
    category = world.categories[1]
    params: dict[str, Any] = {
        "start": "2025-02-01",
        "end": "2025-10-31",
        "product_id": [product],
        "category_id": [category, world.categories[0]],
    }
    response = await world.sales.get(
        "/api/v1/analytics/revenue", params={**params, "interval": "month"}
    )
    keep = {world.categories[0], category}
    expected = expected_metrics(
        within(
            world.rows,
            date(2025, 2, 1),
            date(2025, 10, 31),
            lambda r: r.product_id == product and r.category_id in keep,
        )
    )
    assert reported_metrics(response.json()["totals"]) == expected


async def test_by_category_rows_shares_and_comparison(world: World) -> None:
    start, end = date(2025, 7, 1), date(2025, 12, 31)
    response = await world.sales.get(
        "/api/v1/analytics/revenue/by-category",
        params={"start": start.isoformat(), "end": end.isoformat(), "compare": "previous_period"},
    )
    report = response.json()
    days = (end - start).days + 1  # 184: the previous period is the 184 days before
    before_start, before_end = start - timedelta(days=days), start - timedelta(days=1)
    assert (report["comparison_period"]["start"], report["comparison_period"]["end"]) == (
        before_start.isoformat(),
        before_end.isoformat(),
    )
    total_net = expected_metrics(within(world.rows, start, end))["net_revenue"]
    assert [item["category_id"] for item in report["items"]] != []
    assert {item["category_id"] for item in report["items"]} == set(world.categories)
    for item in report["items"]:
        mine = within(world.rows, start, end, lambda r, c=item["category_id"]: r.category_id == c)
        before = within(
            world.rows,
            before_start,
            before_end,
            lambda r, c=item["category_id"]: r.category_id == c,
        )
        assert reported_metrics(item) == expected_metrics(mine)
        assert reported_metrics(item["comparison"]) == expected_metrics(before)
        net, old = expected_metrics(mine)["net_revenue"], expected_metrics(before)["net_revenue"]
        assert money(item["change"]["net_revenue"]["absolute"]) == money(net - old)
        expected_share = None if total_net == 0 else money(net / total_net * 100)
        assert (money(item["share"]) if item["share"] else None) == expected_share
    nets = [money(item["net_revenue"]) for item in report["items"]]
    assert nets == sorted(nets, reverse=True)
    silent = [item for item in report["items"] if item["category_id"] == world.categories[3]]
    assert silent[0]["sales_count"] == 0
    assert silent[0]["change"]["net_revenue"]["percentage"] is None


@pytest.mark.parametrize("sort", ["net_revenue", "units", "profit"])
async def test_by_product_ranks_every_product(world: World, sort: str) -> None:
    start, end = date(2025, 1, 1), date(2025, 12, 31)
    top = await world.sales.get(
        "/api/v1/analytics/revenue/by-product",
        params={"start": start.isoformat(), "end": end.isoformat(), "sort": sort, "limit": 200},
    )
    items = top.json()["items"]
    assert {item["product_id"] for item in items} == set(world.products)
    for item in items:
        mine = within(world.rows, start, end, lambda r, p=item["product_id"]: r.product_id == p)
        assert reported_metrics(item) == expected_metrics(mine)
    values = [Decimal(str(item[sort])) for item in items]
    assert values == sorted(values, reverse=True)
    bottom = await world.sales.get(
        "/api/v1/analytics/revenue/by-product",
        params={
            "start": start.isoformat(),
            "end": end.isoformat(),
            "sort": sort,
            "order": "asc",
            "limit": 3,
        },
    )
    assert [i["product_id"] for i in bottom.json()["items"]] == [
        i["product_id"]
        for i in sorted(items, key=lambda i: (Decimal(str(i[sort])), i["product_id"]))[:3]
    ]


async def test_summary_cards_and_leaders(world: World) -> None:
    start, end = date(2025, 4, 1), date(2025, 6, 30)
    summary = (
        await world.sales.get(
            "/api/v1/analytics/summary", params={"start": start.isoformat(), "end": end.isoformat()}
        )
    ).json()
    now = expected_metrics(within(world.rows, start, end))
    before = expected_metrics(within(world.rows, date(2024, 12, 31), date(2025, 3, 31)))
    assert money(summary["net_revenue"]["value"]) == now["net_revenue"]
    assert money(summary["net_revenue"]["previous"]) == before["net_revenue"]
    assert (
        money(summary["net_revenue"]["change"]["absolute"])
        == now["net_revenue"] - before["net_revenue"]
    )
    assert int(Decimal(summary["units"]["value"])) == now["units"]
    assert money(summary["average_sale_value"]["value"]) == money(
        now["net_revenue"] / now["sales_count"]
    )
    by_product: dict[int, Decimal] = defaultdict(Decimal)
    for row in within(world.rows, start, end):
        by_product[row.product_id] += row.revenue
    best = max(by_product.items(), key=lambda item: (item[1], -item[0]))
    assert summary["best_product"]["id"] == best[0]
    assert money(summary["best_product"]["net_revenue"]) == money(best[1])


async def test_csv_has_the_same_rows_as_json(world: World) -> None:
    params = {"interval": "month", "start": "2025-01-01", "end": "2025-12-31"}
    as_json = (await world.sales.get("/api/v1/analytics/revenue", params=params)).json()
    as_csv = await world.sales.get(
        "/api/v1/analytics/revenue", params=params, headers={"Accept": "text/csv"}
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(as_csv.text))
    rows = list(reader)
    assert list(reader.fieldnames or [])[:3] == ["start", "end", "revenue"]
    assert len(rows) == len(as_json["buckets"])
    # Text cells (dates too) are quoted, numbers are not.
    assert as_csv.text.splitlines()[1].startswith(f'"{as_json["buckets"][0]["start"]}",')
    for cells, bucket in zip(rows, as_json["buckets"], strict=True):
        assert cells["start"] == bucket["start"]
        assert money(cells["net_revenue"]) == money(bucket["net_revenue"])
        assert int(cells["units"]) == bucket["units"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start": "2025-03-02", "end": "2025-03-01"}, "invalid_range"),
        ({"start": "2000-01-01", "end": "2025-01-01", "interval": "day"}, "too_many_buckets"),
        ({"product_id": [987654321]}, "unknown_reference"),
        ({"category_id": [987654321]}, "unknown_reference"),
        ({"interval": "fortnight"}, "validation_failed"),
        ({"compare": "last_decade"}, "validation_failed"),
        ({"start": "2025-02-30"}, "validation_failed"),
        ({"product_id": ["abc"]}, "validation_failed"),
    ],
)
async def test_bad_report_parameters_are_422_with_the_reason(
    world: World, params: dict[str, Any], code: str
) -> None:
    response = await world.sales.get("/api/v1/analytics/revenue", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["detail"]


async def test_long_ranges_are_fine_in_coarse_intervals(world: World) -> None:
    response = await world.sales.get(
        "/api/v1/analytics/revenue",
        params={"start": "2000-01-01", "end": "2025-12-31", "interval": "month"},
    )
    assert response.status_code == 200
    assert len(response.json()["buckets"]) == 26 * 12


async def test_default_range_is_the_last_30_days_in_store_time(world: World) -> None:
    report = (await world.sales.get("/api/v1/analytics/revenue")).json()
    today = datetime.now(STORE).date()
    assert (report["start"], report["end"]) == (
        (today - timedelta(days=29)).isoformat(),
        today.isoformat(),
    )
    assert len(report["buckets"]) == 30


@pytest.mark.parametrize(
    "path",
    ["/revenue/by-category", "/revenue/by-product", "/summary"],
)
async def test_every_report_answers_in_csv(world: World, path: str) -> None:
    params = {"start": "2025-01-01", "end": "2025-12-31", "compare": "previous_year"}
    as_json = (await world.sales.get(f"/api/v1/analytics{path}", params=params)).json()
    as_csv = await world.sales.get(
        f"/api/v1/analytics{path}", params=params, headers={"Accept": "text/csv, */*;q=0.1"}
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    if path == "/summary":
        assert money(rows[0]["value"]) == money(as_json["net_revenue"]["value"])
        assert [row["metric"] for row in rows][:2] == ["net_revenue", "units"]
        return
    assert len(rows) == len(as_json["items"])
    for row, item in zip(rows, as_json["items"], strict=True):
        assert money(row["net_revenue"]) == money(item["net_revenue"])
        assert money(row["previous_net_revenue"]) == money(item["comparison"]["net_revenue"])


async def test_json_stays_the_default(world: World) -> None:
    response = await world.sales.get(
        "/api/v1/analytics/summary", headers={"Accept": "application/json, text/csv;q=0.5"}
    )
    assert response.headers["content-type"] == "application/json"
