"""Stock reservations through the products service's API (admin)."""

from __future__ import annotations

import asyncio

import pytest
from httpx import Response
from sqlalchemy import select

from common.db import Database
from common.inventory.audit import reconcile
from common.models.sales import Sale
from products_microservice.inventory import service as inventory_service
from tests.fixtures.factories import Catalog, money

RESERVATIONS = "/api/v1/inventory/reservations"


async def _levels(catalog: Catalog, product_id: int) -> tuple[int, int, int]:
    body = (await catalog.client.get(f"/api/v1/products/{product_id}")).json()
    return body["stock_on_hand"], body["reserved"], body["available"]


async def _reserve(catalog: Catalog, *lines: tuple[int, int], ttl: int = 600) -> Response:
    response = await catalog.client.post(
        RESERVATIONS,
        json={
            "items": [{"product_id": p, "quantity": q} for p, q in lines],
            "ttl_seconds": ttl,
            "reference": "cart 42",
        },
    )
    return response


@pytest.fixture
async def products(catalog: Catalog) -> tuple[int, int]:
    category = await catalog.category()
    return (
        await catalog.product(category_id=category, price="8.00", stock=6),
        await catalog.product(category_id=category, price="3.00", stock=4),
    )


async def test_reservation_holds_stock_then_confirm_sells_it(
    catalog: Catalog, products: tuple[int, int], isolated_database: Database
) -> None:
    first, second = products
    created = await _reserve(catalog, (second, 3), (first, 2))
    assert created.status_code == 201, created.text
    reservation = created.json()
    assert reservation["status"] == "active"
    assert reservation["reference"] == "cart 42"
    assert reservation["items"] == [
        {"product_id": first, "quantity": 2},
        {"product_id": second, "quantity": 3},
    ]
    assert await _levels(catalog, first) == (6, 2, 4)
    assert await _levels(catalog, second) == (4, 3, 1)
    low = (await catalog.client.get("/api/v1/inventory/low-stock")).json()
    assert {item["product_id"]: item["available"] for item in low["items"]} == {first: 4, second: 1}

    confirmed = await catalog.client.post(f"{RESERVATIONS}/{reservation['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert await _levels(catalog, first) == (4, 0, 4)
    assert await _levels(catalog, second) == (1, 0, 1)
    async with isolated_database.session_factory() as session:
        sales = (
            await session.execute(
                select(Sale.product_id, Sale.quantity, Sale.unit_price).order_by(Sale.product_id)
            )
        ).all()
        assert await reconcile(session) == []
    assert [tuple(row) for row in sales] == [(first, 2, money("8.00")), (second, 3, money("3.00"))]

    again = await catalog.client.post(f"{RESERVATIONS}/{reservation['id']}/confirm")
    assert (again.status_code, again.json()["code"]) == (409, "reservation_not_active")


async def test_release_gives_the_stock_back(catalog: Catalog, products: tuple[int, int]) -> None:
    first, _ = products
    reservation = (await _reserve(catalog, (first, 5))).json()
    released = await catalog.client.post(f"{RESERVATIONS}/{reservation['id']}/release")
    assert released.json()["status"] == "released"
    assert await _levels(catalog, first) == (6, 0, 6)
    confirm = await catalog.client.post(f"{RESERVATIONS}/{reservation['id']}/confirm")
    assert (confirm.status_code, confirm.json()["code"]) == (409, "reservation_not_active")
    assert await _levels(catalog, first) == (6, 0, 6)


async def test_short_stock_is_409_for_every_line_and_holds_nothing(
    catalog: Catalog, products: tuple[int, int]
) -> None:
    first, second = products
    await _reserve(catalog, (second, 2))
    refused = await _reserve(catalog, (first, 7), (second, 3))
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_stock"
    assert refused.json()["shortages"] == [
        {"product_id": first, "requested": 7, "available": 6},
        {"product_id": second, "requested": 3, "available": 2},
    ]
    assert await _levels(catalog, first) == (6, 0, 6)
    assert await _levels(catalog, second) == (4, 2, 2)


async def test_an_expired_reservation_stops_holding_at_once(
    catalog: Catalog, products: tuple[int, int]
) -> None:
    first, _ = products
    reservation = (await _reserve(catalog, (first, 6), ttl=1)).json()
    assert await _levels(catalog, first) == (6, 6, 0)
    await asyncio.sleep(1.2)
    assert await _levels(catalog, first) == (6, 0, 6)
    read = await catalog.client.get(f"{RESERVATIONS}/{reservation['id']}")
    assert read.json()["status"] == "expired"
    confirm = await catalog.client.post(f"{RESERVATIONS}/{reservation['id']}/confirm")
    assert (confirm.status_code, confirm.json()["code"]) == (409, "reservation_expired")
    release = await catalog.client.post(f"{RESERVATIONS}/{reservation['id']}/release")
    assert (release.status_code, release.json()["code"]) == (409, "reservation_expired")
    assert await _levels(catalog, first) == (6, 0, 6)


@pytest.mark.parametrize(
    "body",
    [
        {"items": [], "ttl_seconds": 60},
        {"items": [{"product_id": 1, "quantity": 1}], "ttl_seconds": 0},
        {"items": [{"product_id": 1, "quantity": 1}], "ttl_seconds": 86_401},
        {"items": [{"product_id": 1, "quantity": -1}], "ttl_seconds": 60},
        {"items": [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 2}]},
        {"items": [{"product_id": 1, "quantity": 1}], "ttl_seconds": 60, "colour": "red"},
    ],
)
async def test_malformed_reservations_are_422(catalog: Catalog, body: dict[str, object]) -> None:
    response = await catalog.client.post(RESERVATIONS, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_unknown_archived_and_missing(catalog: Catalog, products: tuple[int, int]) -> None:
    first, second = products
    unknown = await _reserve(catalog, (first, 1), (2_000_000_000, 1))
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_product")
    await catalog.archive(second)
    archived = await _reserve(catalog, (second, 1))
    assert (archived.status_code, archived.json()["code"]) == (409, "product_archived")
    missing = await catalog.client.get(f"{RESERVATIONS}/2000000000")
    assert (missing.status_code, missing.json()["code"]) == (404, "reservation_not_found")
    assert await _levels(catalog, first) == (6, 0, 6)


@pytest.mark.parametrize("candidates", ["listed", "too many to list"])
async def test_a_hold_makes_a_well_stocked_product_low_and_its_release_undoes_it(
    catalog: Catalog, candidates: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Low stock reads only candidates (level at or below the threshold, or held by a
    reservation): a product above its threshold must still show once holds bring its
    available stock down to it, and leave once they are gone. With more candidates than it
    lists by id, the same rows come from the conditions alone."""
    if candidates == "too many to list":
        monkeypatch.setattr(inventory_service, "MAX_LOW_STOCK_CANDIDATES", 0)
    category = await catalog.category()
    plenty = await catalog.product(category_id=category, stock=20)  # threshold 10
    scarce = await catalog.product(category_id=category, stock=3)

    async def low() -> dict[int, int]:
        body = (await catalog.client.get("/api/v1/inventory/low-stock")).json()
        assert body["total"] == len(body["items"])
        # The summary counts with the holds joined once: it must agree with the listing.
        summary = (await catalog.client.get("/api/v1/inventory/summary")).json()
        assert summary["low_stock_count"] + summary["out_of_stock_count"] == body["total"]
        return {item["product_id"]: item["available"] for item in body["items"]}

    assert await low() == {scarce: 3}
    small = await _reserve(catalog, (plenty, 5))
    assert await low() == {scarce: 3}  # 15 available, still above 10
    large = await _reserve(catalog, (plenty, 7))
    assert await low() == {scarce: 3, plenty: 8}
    released = await catalog.client.post(f"{RESERVATIONS}/{large.json()['id']}/release")
    assert released.status_code == 200
    assert await low() == {scarce: 3}
    expiring = await _reserve(catalog, (plenty, 11), ttl=1)
    assert await low() == {scarce: 3, plenty: 4}
    await asyncio.sleep(1.1)
    assert await low() == {scarce: 3}
    assert small.status_code == expiring.status_code == 201


async def test_confirming_a_reservation_of_every_unit_sells_them_all(
    catalog: Catalog, isolated_database: Database
) -> None:
    """The sale under the confirmation's own lock read: the reservation's hold becomes the
    sale, and nothing else's hold may be taken (a second reservation holds the rest)."""
    category = await catalog.category()
    product = await catalog.product(category_id=category, stock=5)
    everything = (await _reserve(catalog, (product, 3))).json()
    rest = (await _reserve(catalog, (product, 2))).json()
    assert await _levels(catalog, product) == (5, 5, 0)
    confirmed = await catalog.client.post(f"{RESERVATIONS}/{everything['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert await _levels(catalog, product) == (2, 2, 0)
    confirmed = await catalog.client.post(f"{RESERVATIONS}/{rest['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert await _levels(catalog, product) == (0, 0, 0)
    async with isolated_database.session_factory() as session:
        assert await reconcile(session) == []
