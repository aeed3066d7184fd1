"""Stock roll-forward: a hand-computed ledger across the spring DST change in Berlin, the
identity on every row, agreement with `as_of` at both ends, chaining, CSV and bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db import Database
from common.inventory.ledger import record_movement
from common.models import MovementKind
from common.models.identity import Role
from tests.fixtures.clients import client_for
from tests.fixtures.factories import API, create_category, create_product

URL = f"{API}/inventory/roll-forward"
KINDS = ("initial", "restock", "import", "return", "sale", "damage", "adjustment", "correction")
# Europe/Berlin moves from +01:00 to +02:00 at 01:00 UTC on Sunday 2026-03-29: that store day
# runs from 2026-03-28T23:00Z to 2026-03-29T22:00Z (23 hours).
LEDGER_A = [  # product A, cost 2.00
    ("2026-03-27T12:00:00", MovementKind.INITIAL, 20),  # Mar 27 -> 20
    ("2026-03-28T22:30:00", MovementKind.RESTOCK, 10),  # 23:30 on Mar 28 -> 30
    ("2026-03-28T23:00:00", MovementKind.SALE, -4),  # 00:00 on Mar 29, its first instant -> 26
    ("2026-03-29T22:30:00", MovementKind.RETURN, 2),  # 00:30 on Mar 30 (UTC: still the 29th) -> 28
    ("2026-03-30T10:00:00", MovementKind.ADJUSTMENT, -3),  # Mar 30 -> 25
    ("2026-03-31T09:00:00", MovementKind.CORRECTION, 1),  # Mar 31 -> 26
]
LEDGER_B = [  # product B, no cost price
    ("2026-03-29T12:00:00", MovementKind.INITIAL, 5),  # Mar 29 -> 5
    ("2026-03-29T13:00:00", MovementKind.DAMAGE, -2),  # Mar 29 -> 3
    ("2026-03-30T23:30:00", MovementKind.IMPORT, 7),  # 01:30 on Mar 31 -> 10
]


OPENING_AT = {
    "2026-03-28": "2026-03-27T22:59:59.999999Z",
    "2026-03-29": "2026-03-28T22:59:59.999999Z",
    "2026-03-30": "2026-03-29T21:59:59.999999Z",
}
CLOSING_AT = {
    "2026-03-29": "2026-03-29T21:59:59.999999Z",
    "2026-03-30": "2026-03-30T21:59:59.999999Z",
    "2026-03-31": "2026-03-31T21:59:59.999999Z",
}


@dataclass
class Shelf:
    client: AsyncClient
    a: dict[str, Any]
    b: dict[str, Any]


@pytest.fixture
async def berlin(settings: Settings, isolated_database: Database) -> AsyncIterator[AsyncClient]:
    berlin_settings = settings.model_copy(update={"store_timezone": "Europe/Berlin"})
    async for client in client_for("products", berlin_settings, isolated_database, as_=Role.admin):
        yield client


@pytest.fixture
async def shelf(berlin: AsyncClient, session: AsyncSession) -> Shelf:
    first = (await create_category(berlin))["id"]
    second = (await create_category(berlin))["id"]
    a = await create_product(berlin, category_id=first, cost_price="2.00")
    b = await create_product(berlin, category_id=second)
    for product, ledger in ((a, LEDGER_A), (b, LEDGER_B)):
        for at, kind, delta in ledger:
            await record_movement(
                session,
                product_id=product["id"],
                kind=kind,
                delta=delta,
                at=datetime.fromisoformat(at).replace(tzinfo=UTC),
            )
    await session.commit()
    return Shelf(client=berlin, a=a, b=b)


async def roll(shelf: Shelf, start: str, end: str, **params: Any) -> dict[str, Any]:
    response = await shelf.client.get(URL, params={"start": start, "end": end, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_product(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {item["product_id"]: item for item in report["items"]}


def flows(item: dict[str, Any]) -> dict[str, int]:
    return {kind: item[kind] for kind in KINDS if item[kind]}


async def test_the_dst_day_counts_its_own_23_hours(shelf: Shelf) -> None:
    report = await roll(shelf, "2026-03-29", "2026-03-29")
    assert (report["start"], report["end"], report["timezone"]) == (
        "2026-03-29",
        "2026-03-29",
        "Europe/Berlin",
    )
    a, b = by_product(report)[shelf.a["id"]], by_product(report)[shelf.b["id"]]
    # The restock at 23:30 on the 28th is before; the return at 00:30 on the 30th is after.
    assert (a["opening_units"], flows(a), a["closing_units"]) == (30, {"sale": -4}, 26)
    assert (Decimal(a["opening_value"]), Decimal(a["closing_value"])) == (
        Decimal("60.00"),
        Decimal("52.00"),
    )
    assert (b["opening_units"], flows(b), b["closing_units"]) == (
        0,
        {"initial": 5, "damage": -2},
        3,
    )
    assert Decimal(b["closing_value"]) == Decimal("0.00")  # no cost price: valued at 0
    assert report["valuation"] == "cost_price"


async def test_every_row_adds_up_and_the_totals_add_the_rows(shelf: Shelf) -> None:
    report = await roll(shelf, "2026-03-27", "2026-03-31")
    for item in report["items"]:
        assert item["opening_units"] + sum(item[kind] for kind in KINDS) == item["closing_units"]
    a = by_product(report)[shelf.a["id"]]
    assert flows(a) == {
        "initial": 20,
        "restock": 10,
        "sale": -4,
        "return": 2,
        "adjustment": -3,
        "correction": 1,
    }
    totals = report["totals"]
    for name in ("opening_units", "closing_units", *KINDS):
        assert totals[name] == sum(item[name] for item in report["items"])
    assert (totals["opening_units"], totals["closing_units"]) == (0, 26 + 10)
    assert Decimal(totals["closing_value"]) == Decimal("52.00")


@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-03-29", "2026-03-29"), ("2026-03-28", "2026-03-30"), ("2026-03-30", "2026-03-31")],
)
async def test_opening_and_closing_agree_with_as_of(shelf: Shelf, start: str, end: str) -> None:
    report = await roll(shelf, start, end)
    # The last microsecond before `start` began, and the last one of `end`, in Berlin.
    moments = {"opening_units": OPENING_AT[start], "closing_units": CLOSING_AT[end]}
    for field, as_of in moments.items():
        listed = (await shelf.client.get(f"{API}/inventory", params={"as_of": as_of})).json()
        levels = {item["product_id"]: item["on_hand"] for item in listed["items"]}
        for product_id, item in by_product(report).items():
            assert item[field] == levels[product_id], (field, as_of, product_id)


async def test_consecutive_periods_chain(shelf: Shelf) -> None:
    first = by_product(await roll(shelf, "2026-03-01", "2026-03-28"))
    second = by_product(await roll(shelf, "2026-03-29", "2026-03-30"))
    third = by_product(await roll(shelf, "2026-03-31", "2026-04-30"))
    whole = by_product(await roll(shelf, "2026-03-01", "2026-04-30"))
    for product_id, item in whole.items():
        assert first[product_id]["closing_units"] == second[product_id]["opening_units"]
        assert second[product_id]["closing_units"] == third[product_id]["opening_units"]
        assert item["opening_units"] == first[product_id]["opening_units"]
        assert item["closing_units"] == third[product_id]["closing_units"]
        for kind in KINDS:
            parts = (first, second, third)
            assert item[kind] == sum(part[product_id][kind] for part in parts)


async def test_filters_and_pages_keep_the_totals_of_everything_matched(shelf: Shelf) -> None:
    only_b = await roll(shelf, "2026-03-27", "2026-03-31", category_id=shelf.b["category_id"])
    assert [item["product_id"] for item in only_b["items"]] == [shelf.b["id"]]
    assert only_b["totals"]["closing_units"] == 10
    only_a = await roll(shelf, "2026-03-27", "2026-03-31", product_id=shelf.a["id"])
    assert [item["product_id"] for item in only_a["items"]] == [shelf.a["id"]]
    page = await roll(shelf, "2026-03-27", "2026-03-31", limit=1, offset=1)
    assert [item["product_id"] for item in page["items"]] == [shelf.b["id"]]
    assert (page["total"], page["totals"]["closing_units"]) == (2, 36)


async def test_roll_forward_answers_csv(shelf: Shelf) -> None:
    response = await shelf.client.get(
        URL, params={"start": "2026-03-29", "end": "2026-03-29"}, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = {int(row["product_id"]): row for row in csv.DictReader(io.StringIO(response.text))}
    assert (rows[shelf.a["id"]]["opening_units"], rows[shelf.a["id"]]["sale"]) == ("30", "-4")
    assert rows[shelf.b["id"]]["return"] == "0"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start": "2026-03-02", "end": "2026-03-01"}, "invalid_range"),
        ({"start": "2025-01-01", "end": "2026-01-02"}, "invalid_range"),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "validation_failed"),
        ({"end": "2026-03-01"}, "validation_failed"),
        ({"start": "2026-03-01", "end": "2026-03-02", "category_id": "0"}, "validation_failed"),
        ({"start": "2026-03-01", "end": "2026-03-02", "limit": "500"}, "validation_failed"),
    ],
)
async def test_bad_ranges_are_422_problems(
    admin_products_client: AsyncClient, params: dict[str, str], code: str
) -> None:
    response = await admin_products_client.get(URL, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_customers_may_not_read_the_roll_forward(
    settings: Settings, isolated_database: Database
) -> None:
    async for customer in client_for("products", settings, isolated_database, as_=Role.customer):
        response = await customer.get(URL, params={"start": "2026-03-01", "end": "2026-03-02"})
        assert response.status_code == 403
