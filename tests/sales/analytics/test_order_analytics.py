"""The orders report against an independent computation from generated orders.

Several hundred customers and a few thousand orders placed, paid, cancelled, refunded, left
to expire or left pending, at random instants of two years (fixed seed) of a New York store,
both DST changes and local midnights included. The orders are written as rows (their past
instants cannot go through the live flow), the rollups are rebuilt from them, and every
figure is compared with sums computed here, in plain Python, from the generated orders.
The live flow's own rollup writes are checked in `test_order_rollups.py`.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from httpx import AsyncClient
from sqlalchemy import insert, select

from common.db import Database
from common.db.types import utcnow
from common.identity.schemas import email_key
from common.models.identity import Role, UserAccount
from common.models.inventory import StockReservation
from common.models.orders import CustomerOrder, OrderItem, OrderStatusChange
from common.orders.rollups import rebuild_all_orders
from tests.fixtures.clients import client_for
from tests.fixtures.databases import make_settings, migrate
from tests.fixtures.factories import make_product, money
from tests.fixtures.reports import independent_bucket

STORE = ZoneInfo("America/New_York")
SEED = 20261204
HISTORY_START = datetime(2024, 1, 1, 5, tzinfo=UTC)  # local midnight, 1 January 2024
HISTORY_DAYS = 730
CUSTOMERS = 300
ORDERS = 2500
# Placements right at the DST changes and local midnights of 2025.
EDGES = [
    datetime(2025, 3, 9, 4, 59, tzinfo=UTC),  # 23:59 EST, 8 March
    datetime(2025, 3, 9, 7, 0, tzinfo=UTC),  # 03:00 EDT, just after the jump
    datetime(2025, 3, 10, 3, 59, tzinfo=UTC),  # 23:59 EDT, 9 March
    datetime(2025, 11, 2, 5, 30, tzinfo=UTC),  # 01:30 EDT, first pass
    datetime(2025, 11, 2, 6, 30, tzinfo=UTC),  # 01:30 EST, second pass
    datetime(2025, 11, 3, 4, 59, tzinfo=UTC),  # 23:59 EST, 2 November
]
INTERVALS = ("day", "week", "month", "quarter", "year")
COMPARES = ("none", "previous_period", "previous_year")
REPORT_START, REPORT_END = date(2025, 2, 15), date(2025, 11, 30)


@dataclass(frozen=True)
class Order:
    """One generated order, as the test knows it."""

    customer_id: int
    total: Decimal
    units: int
    placed: datetime
    paid: datetime | None
    cancelled: datetime | None
    refunded: datetime | None


@dataclass
class World:
    orders: list[Order]
    sales: AsyncClient


def local(moment: datetime) -> date:
    return moment.astimezone(STORE).date()


@pytest.fixture(scope="module")
async def world(
    backend_name: str, fresh_database_url: Callable[[str], Any]
) -> AsyncIterator[World]:
    url = await fresh_database_url(backend_name)
    await migrate(url)
    settings = make_settings(url, store_timezone=STORE.key)
    database = Database.from_settings(settings)
    try:
        orders = await _generate(database)
        async with database.session_factory() as session:
            await rebuild_all_orders(session, STORE)
            await session.commit()
        async for sales in client_for("sales", settings, database, as_=Role.admin):
            yield World(orders=orders, sales=sales)
    finally:
        await database.dispose()


async def _generate(database: Database) -> list[Order]:
    rng = random.Random(SEED)
    now = utcnow()
    orders: list[Order] = []
    async with database.session_factory() as session:
        products = [await make_product(session, sku=f"ORDERS-{n}") for n in range(3)]
        reservation = StockReservation(
            status="confirmed", expires_at=now, created_at=now, updated_at=now
        )
        session.add(reservation)
        await session.flush()
        accounts = [
            {
                "email": f"buyer{n}@example.com",
                "email_key": email_key(f"buyer{n}@example.com"),
                "full_name": f"Buyer {n}",
                "password_hash": "not-a-hash",
                "role": Role.customer.value,
                "wallet_balance": Decimal("0.00"),
                "created_at": now,
                "updated_at": now,
            }
            for n in range(CUSTOMERS)
        ]
        await session.execute(insert(UserAccount), accounts)
        customer_ids = list(await session.scalars(select(UserAccount.id)))
        instants = EDGES + [
            HISTORY_START + timedelta(seconds=rng.randrange(HISTORY_DAYS * 86400))
            for _ in range(ORDERS)
        ]
        order_rows, item_rows, change_rows = [], [], []
        for order_id, placed in enumerate(sorted(instants), start=1):
            # Customers join over the two years; a newcomer often buys again soon, and
            # anyone who joined may come back.
            share = (placed - HISTORY_START) / timedelta(days=HISTORY_DAYS)
            joined = min(len(customer_ids), 1 + int(len(customer_ids) * share))
            newest = rng.random() < 0.4
            pick = joined - 1 - rng.randrange(min(joined, 8)) if newest else rng.randrange(joined)
            customer = customer_ids[pick]
            lines = rng.sample(products, rng.randint(1, 3))
            quantities = {product: rng.randint(1, 4) for product in lines}
            prices = {product: money(rng.randint(100, 9999)) / 100 for product in lines}
            total = money(sum(prices[p] * q for p, q in quantities.items()))
            fate = rng.choices(
                ["paid", "refunded", "cancelled", "expired", "pending"], [70, 8, 10, 8, 4]
            )[0]
            paid = (
                placed + timedelta(seconds=rng.randint(5, 900))
                if fate in ("paid", "refunded")
                else None
            )
            cancelled = (
                placed + timedelta(seconds=rng.randint(5, 900)) if fate == "cancelled" else None
            )
            refunded = None
            if paid is not None and fate == "refunded":
                refunded = paid + timedelta(hours=rng.randint(1, 24 * 40))
            status = {"paid": "delivered", "pending": "pending"}.get(fate, fate)
            order_rows.append(
                {
                    "id": order_id,
                    "customer_id": customer,
                    "status": status,
                    "total": total,
                    "shipping_address": "1 Test Street",
                    "reservation_id": reservation.id,
                    "expires_at": placed + timedelta(minutes=15),
                    "created_at": placed,
                    "paid_at": paid,
                    "updated_at": placed,
                }
            )
            item_rows += [
                {
                    "order_id": order_id,
                    "product_id": product,
                    "quantity": quantity,
                    "unit_price": prices[product],
                    "line_total": prices[product] * quantity,
                }
                for product, quantity in quantities.items()
            ]
            history = [("pending", placed), ("paid", paid), ("cancelled", cancelled)]
            history += [("refunded", refunded)]
            if fate == "expired":
                history.append(("expired", placed + timedelta(minutes=16)))
            change_rows += [
                {"order_id": order_id, "to_status": to, "created_at": at}
                for to, at in history
                if at is not None
            ]
            orders.append(
                Order(
                    customer_id=customer,
                    total=total,
                    units=sum(quantities.values()),
                    placed=placed,
                    paid=paid,
                    cancelled=cancelled,
                    refunded=refunded,
                )
            )
        await session.execute(insert(CustomerOrder), order_rows)
        await session.execute(insert(OrderItem), item_rows)
        await session.execute(insert(OrderStatusChange), change_rows)
        await session.commit()
    return orders


# --- the independent computation ----------------------------------------------------------


def expected(orders: list[Order], start: date, end: date) -> dict[str, Any]:
    def on(moment: datetime | None) -> bool:
        return moment is not None and start <= local(moment) <= end

    placed = sum(1 for o in orders if on(o.placed))
    paid = [o for o in orders if on(o.paid)]
    cancelled = sum(1 for o in orders if on(o.cancelled))
    revenue = sum((o.total for o in paid), Decimal("0"))
    units = sum(o.units for o in paid)
    return {
        "orders_placed": placed,
        "orders_paid": len(paid),
        "orders_cancelled": cancelled,
        "orders_refunded": sum(1 for o in orders if on(o.refunded)),
        "paid_revenue": money(revenue),
        "average_order_value": money(revenue / len(paid)) if paid else None,
        "units_per_order": money(Decimal(units) / len(paid)) if paid else None,
        "cancellation_rate": (
            (Decimal(cancelled) / placed).quantize(Decimal("0.0001")) if placed else None
        ),
    }


def reported(item: dict[str, Any]) -> dict[str, Any]:
    return {
        name: Decimal(item[name]) if isinstance(item[name], str) else item[name]
        for name in (
            "orders_placed",
            "orders_paid",
            "orders_cancelled",
            "orders_refunded",
            "paid_revenue",
            "average_order_value",
            "units_per_order",
            "cancellation_rate",
        )
    }


def one_year_earlier(day: date) -> date:
    return day.replace(year=day.year - 1) if (day.month, day.day) != (2, 29) else day.replace(
        year=day.year - 1, day=28
    )  # fmt: skip


def compared(compare: str, start: date, end: date) -> tuple[date, date]:
    if compare == "previous_period":
        return start - (end - start) - timedelta(days=1), start - timedelta(days=1)
    return one_year_earlier(start), one_year_earlier(end)


def check_series(orders: list[Order], series: dict[str, Any], interval: str) -> None:
    start, end = date.fromisoformat(series["start"]), date.fromisoformat(series["end"])
    assert reported(series["totals"]) == expected(orders, start, end)
    keys = [independent_bucket(interval, date.fromisoformat(b["start"])) for b in series["buckets"]]
    assert keys == sorted(set(keys))
    assert series["buckets"][0]["start"] == series["start"]
    assert series["buckets"][-1]["end"] == series["end"]
    for bucket in series["buckets"]:
        first, last = date.fromisoformat(bucket["start"]), date.fromisoformat(bucket["end"])
        assert independent_bucket(interval, first) == independent_bucket(interval, last)
        assert reported(bucket) == expected(orders, first, last), bucket["start"]


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("compare", COMPARES)
@pytest.mark.parametrize("interval", INTERVALS)
async def test_orders_report_matches_the_raw_orders(
    world: World, interval: str, compare: str
) -> None:
    response = await world.sales.get(
        "/api/v1/analytics/orders",
        params={
            "interval": interval,
            "start": REPORT_START.isoformat(),
            "end": REPORT_END.isoformat(),
            "compare": compare,
        },
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["interval"] == interval
    check_series(world.orders, report, interval)
    if compare == "none":
        assert report["comparison"] is None
        assert report["change"] is None
        return
    first, last = compared(compare, REPORT_START, REPORT_END)
    assert (report["comparison"]["start"], report["comparison"]["end"]) == (
        first.isoformat(),
        last.isoformat(),
    )
    check_series(world.orders, report["comparison"], interval)
    now, before = (
        expected(world.orders, REPORT_START, REPORT_END),
        expected(world.orders, first, last),
    )
    for name in ("orders_placed", "orders_paid", "paid_revenue"):
        assert Decimal(report["change"][name]["absolute"]) == money(now[name] - before[name])


async def test_orders_on_dst_days_count_in_store_time(world: World) -> None:
    for day in ("2025-03-09", "2025-11-02"):
        response = await world.sales.get(
            "/api/v1/analytics/orders", params={"start": day, "end": day}
        )
        totals = reported(response.json()["totals"])
        assert totals == expected(world.orders, date.fromisoformat(day), date.fromisoformat(day))
    assert expected(world.orders, date(2025, 11, 2), date(2025, 11, 2))["orders_placed"] >= 3


async def test_generated_orders_cover_every_figure(world: World) -> None:
    """The data exercises what the report counts: none of the sums is trivially zero."""
    figures = expected(world.orders, REPORT_START, REPORT_END)
    assert all(figures[name] for name in ("orders_cancelled", "orders_refunded", "orders_paid"))
    expired = sum(1 for o in world.orders if o.paid is None and o.cancelled is None)
    assert expired > 100  # expired and pending orders are placed, never cancelled


async def test_orders_csv_equals_json(world: World) -> None:
    params = {"interval": "month", "start": "2025-01-01", "end": "2025-12-31"}
    report = (await world.sales.get("/api/v1/analytics/orders", params=params)).json()
    response = await world.sales.get(
        "/api/v1/analytics/orders", params=params, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(report["buckets"]) == 12
    for row, bucket in zip(rows, report["buckets"], strict=True):
        for name, value in bucket.items():
            assert row[name] == ("" if value is None else str(value)), name


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start": "2025-03-02", "end": "2025-03-01"}, "invalid_range"),
        ({"start": "2000-01-01", "end": "2025-12-31", "interval": "day"}, "too_many_buckets"),
        ({"interval": "fortnight"}, "validation_failed"),
        ({"compare": "yesterday"}, "validation_failed"),
        ({"start": "2025-02-30"}, "validation_failed"),
    ],
)
async def test_orders_report_refuses_bad_input(
    world: World, params: dict[str, str], code: str
) -> None:
    response = await world.sales.get("/api/v1/analytics/orders", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


async def test_a_year_without_orders_is_zeros_in_every_bucket(world: World) -> None:
    response = await world.sales.get(
        "/api/v1/analytics/orders",
        params={"start": "2023-01-01", "end": "2023-12-31", "interval": "month"},
    )
    report = response.json()
    assert len(report["buckets"]) == 12
    assert reported(report["totals"])["orders_placed"] == 0
    assert report["totals"]["average_order_value"] is None


# --- customers ------------------------------------------------------------------------------


def first_paid_days(orders: list[Order]) -> dict[int, date]:
    first: dict[int, date] = {}
    for o in orders:
        if o.paid is not None:
            day = local(o.paid)
            first[o.customer_id] = min(day, first.get(o.customer_id, day))
    return first


def expected_customers(orders: list[Order], start: date, end: date) -> dict[str, Any]:
    first = first_paid_days(orders)
    active = {o.customer_id for o in orders if o.paid and start <= local(o.paid) <= end}
    new = {c for c, day in first.items() if start <= day <= end}
    returning = {c for c in active if first[c] < start}
    return {
        "new_customers": len(new),
        "returning_customers": len(returning),
        "active_customers": len(active),
        "repeat_rate": (
            (Decimal(len(returning)) / len(active)).quantize(Decimal("0.0001")) if active else None
        ),
    }


def reported_customers(item: dict[str, Any]) -> dict[str, Any]:
    return {
        name: Decimal(item[name]) if isinstance(item[name], str) else item[name]
        for name in ("new_customers", "returning_customers", "active_customers", "repeat_rate")
    }


def check_customer_series(orders: list[Order], series: dict[str, Any], interval: str) -> None:
    start, end = date.fromisoformat(series["start"]), date.fromisoformat(series["end"])
    assert reported_customers(series["totals"]) == expected_customers(orders, start, end)
    assert series["buckets"][0]["start"] == series["start"]
    assert series["buckets"][-1]["end"] == series["end"]
    for bucket in series["buckets"]:
        first, last = date.fromisoformat(bucket["start"]), date.fromisoformat(bucket["end"])
        assert independent_bucket(interval, first) == independent_bucket(interval, last)
        assert reported_customers(bucket) == expected_customers(orders, first, last), first


@pytest.mark.parametrize("compare", COMPARES)
@pytest.mark.parametrize("interval", INTERVALS)
async def test_customers_report_matches_the_raw_orders(
    world: World, interval: str, compare: str
) -> None:
    response = await world.sales.get(
        "/api/v1/analytics/customers",
        params={
            "interval": interval,
            "start": REPORT_START.isoformat(),
            "end": REPORT_END.isoformat(),
            "compare": compare,
        },
    )
    assert response.status_code == 200, response.text
    report = response.json()
    check_customer_series(world.orders, report, interval)
    if compare == "none":
        assert report["comparison"] is None
        return
    check_customer_series(world.orders, report["comparison"], interval)
    first, last = compared(compare, REPORT_START, REPORT_END)
    assert report["comparison"]["start"] == first.isoformat()
    now = expected_customers(world.orders, REPORT_START, REPORT_END)
    before = expected_customers(world.orders, first, last)
    assert int(Decimal(report["change"]["active_customers"]["absolute"])) == (
        now["active_customers"] - before["active_customers"]
    )


async def test_customers_report_has_new_and_returning_customers(world: World) -> None:
    totals = expected_customers(world.orders, REPORT_START, REPORT_END)
    assert totals["new_customers"] > 20
    assert totals["returning_customers"] > 20


def expected_top(orders: list[Order], start: date, end: date, sort: str) -> list[dict[str, Any]]:
    mine: dict[int, list[Order]] = {}
    for o in orders:
        if o.paid is not None and start <= local(o.paid) <= end:
            mine.setdefault(o.customer_id, []).append(o)
    rows = []
    for customer, paid in mine.items():
        net = sum((o.total for o in paid if o.refunded is None), Decimal("0.00"))
        rows.append(
            {
                "customer_id": customer,
                "orders": len(paid),
                "net_spend": money(net),
                "average_order_value": money(net / len(paid)),
                "first_order_at": min(o.placed for o in paid),
                "last_order_at": max(o.placed for o in paid),
                "rank": {
                    "net_spend": net,
                    "orders": Decimal(len(paid)),
                    "average_order_value": net / len(paid),
                }[sort],
            }
        )
    rows.sort(key=lambda row: (-row["rank"], row["customer_id"]))
    for row in rows:
        del row["rank"]
    return rows


@pytest.mark.parametrize("sort", ["net_spend", "orders", "average_order_value"])
async def test_top_customers_match_the_raw_orders(world: World, sort: str) -> None:
    response = await world.sales.get(
        "/api/v1/analytics/customers/top",
        params={
            "sort": sort,
            "limit": 25,
            "start": REPORT_START.isoformat(),
            "end": REPORT_END.isoformat(),
        },
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [
        {
            "customer_id": item["customer_id"],
            "orders": item["orders"],
            "net_spend": Decimal(item["net_spend"]),
            "average_order_value": Decimal(item["average_order_value"]),
            "first_order_at": datetime.fromisoformat(item["first_order_at"]),
            "last_order_at": datetime.fromisoformat(item["last_order_at"]),
        }
        for item in items
    ] == expected_top(world.orders, REPORT_START, REPORT_END, sort)[:25]
    assert all(item["email"].startswith("buyer") for item in items)


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def week_index(day: date) -> int:
    return (day - date(2000, 1, 3)).days // 7  # 3 January 2000 was a Monday


@pytest.mark.parametrize("period", ["month", "week"])
async def test_cohorts_match_the_raw_orders(world: World, period: str) -> None:
    start, end = date(2024, 3, 1), date(2025, 2, 28)
    response = await world.sales.get(
        "/api/v1/analytics/cohorts",
        params={"period": period, "start": start.isoformat(), "end": end.isoformat()},
    )
    assert response.status_code == 200, response.text
    cohorts = response.json()["cohorts"]
    index = month_index if period == "month" else week_index
    first = {c: day for c, day in first_paid_days(world.orders).items() if start <= day <= end}
    paid_periods: dict[int, set[int]] = {}
    for o in world.orders:
        if o.paid is not None and o.customer_id in first and local(o.paid) <= end:
            paid_periods.setdefault(o.customer_id, set()).add(index(local(o.paid)))
    members: dict[int, list[int]] = {}
    for customer, day in first.items():
        members.setdefault(index(day), []).append(customer)
    assert [c["customers"] for c in cohorts] == [len(members[k]) for k in sorted(members)]
    for cohort, key in zip(cohorts, sorted(members), strict=True):
        people = members[key]
        expected = [
            (Decimal(sum(1 for c in people if key + k in paid_periods[c])) / len(people)).quantize(
                Decimal("0.0001")
            )
            for k in range(index(end) - key + 1)
        ]
        assert [Decimal(share) for share in cohort["retention"]] == expected, cohort["cohort"]
        assert expected[0] == 1
    assert cohorts[0]["cohort"] == ("2024-03" if period == "month" else "2024-W09")


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("customers", {"start": "2025-03-02", "end": "2025-03-01"}, "invalid_range"),
        ("customers", {"interval": "hour"}, "validation_failed"),
        ("customers/top", {"sort": "name"}, "validation_failed"),
        ("customers/top", {"limit": "101"}, "validation_failed"),
        ("customers/top", {"start": "2025-03-02", "end": "2025-03-01"}, "invalid_range"),
        ("cohorts", {"period": "day"}, "validation_failed"),
        ("cohorts", {"period": "week", "start": "1970-01-01", "end": "2025-01-01"},
         "too_many_buckets"),
    ],
)  # fmt: skip
async def test_customer_reports_refuse_bad_input(
    world: World, path: str, params: dict[str, str], code: str
) -> None:
    response = await world.sales.get(f"/api/v1/analytics/{path}", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


@pytest.mark.parametrize("path", ["customers", "customers/top", "cohorts"])
async def test_customer_reports_csv_equal_json(world: World, path: str) -> None:
    params = {"start": "2025-01-01", "end": "2025-06-30", "interval": "month"}
    report = (await world.sales.get(f"/api/v1/analytics/{path}", params=params)).json()
    response = await world.sales.get(
        f"/api/v1/analytics/{path}", params=params, headers={"Accept": "text/csv"}
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    items = report.get("buckets") or report.get("items") or report["cohorts"]
    assert len(rows) == len(items) > 0
    for row, item in zip(rows, items, strict=True):
        flat = dict(item)
        if "retention" in flat:
            flat |= {f"period_{k}": v for k, v in enumerate(flat.pop("retention"))}
        for name, value in flat.items():
            if name.endswith("_at"):
                assert datetime.fromisoformat(row[name]) == datetime.fromisoformat(value)
            else:
                assert row[name] == ("" if value is None else str(value)), name


# --- lifetime figures ---------------------------------------------------------------------


async def test_lifetime_figures_match_the_raw_orders_and_sort_the_list(world: World) -> None:
    expected: dict[int, tuple[int, Decimal, datetime]] = {}
    for o in world.orders:
        count, spend, last = expected.get(o.customer_id, (0, Decimal("0.00"), o.placed))
        if o.paid is not None:
            count += 1
            spend += o.total if o.refunded is None else 0
        expected[o.customer_id] = (count, money(spend), max(last, o.placed))
    response = await world.sales.get(
        "/api/v1/customers",
        params={"sort": "lifetime_spend", "order": "desc", "limit": 200, "role": "customer"},
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    ranked = sorted(expected.items(), key=lambda item: (-item[1][1], -item[0]))
    assert [item["id"] for item in items[: len(ranked[:50])]] == [c for c, _ in ranked[:50]]
    for item in items:
        count, spend, last = expected.get(item["id"], (0, Decimal("0.00"), None))  # type: ignore[arg-type]
        assert (item["orders_count"], Decimal(item["lifetime_spend"])) == (count, spend)
        assert (item["last_order_at"] and datetime.fromisoformat(item["last_order_at"])) == last
    one = next(iter(expected))
    read = (await world.sales.get(f"/api/v1/customers/{one}")).json()
    assert read["orders_count"] == expected[one][0]
    by_count = await world.sales.get(
        "/api/v1/customers", params={"sort": "orders_count", "order": "desc", "limit": 5}
    )
    counts = [item["orders_count"] for item in by_count.json()["items"]]
    assert counts == sorted((v[0] for v in expected.values()), reverse=True)[:5]
    recent = await world.sales.get(
        "/api/v1/customers", params={"sort": "last_order_at", "order": "desc", "limit": 1}
    )
    assert datetime.fromisoformat(recent.json()["items"][0]["last_order_at"]) == max(
        v[2] for v in expected.values()
    )
