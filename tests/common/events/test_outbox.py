"""The outbox holds exactly the events of committed changes, and `GET /events` reads it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from common.db import Database
from common.models.events import OutboxEvent
from common.sales.service import record_sale
from tests.fixtures.factories import Catalog

EVENTS = "/api/v1/events"


async def _events(client: AsyncClient, **params: object) -> list[dict[str, object]]:
    response = await client.get(EVENTS, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_a_committed_sale_emits_one_sale_recorded_with_the_sale_as_the_api_returns_it(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await catalog.product(category_id=await catalog.category(), stock=10)
    sale = (
        await admin_sales_client.post("/api/v1/sales", json={"product_id": product, "quantity": 2})
    ).json()
    (event,) = await _events(admin_sales_client, type="sale.recorded")
    assert event["type"] == "sale.recorded"
    data = event["data"]
    assert isinstance(data, dict)
    assert {key: data[key] for key in sale} == sale


async def test_a_refused_sale_emits_nothing(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await catalog.product(category_id=await catalog.category(), stock=1)
    refused = await admin_sales_client.post(
        "/api/v1/sales", json={"product_id": product, "quantity": 5}
    )
    assert refused.status_code == 409
    assert await _events(admin_sales_client, type="sale.recorded") == []


async def test_a_rolled_back_change_leaves_no_event(
    catalog: Catalog, isolated_database: Database
) -> None:
    product = await catalog.product(category_id=await catalog.category(), stock=10)
    async with isolated_database.session_factory() as session:
        before = await session.scalar(select(func.count()).select_from(OutboxEvent))
        await record_sale(session, product_id=product, quantity=1, timezone=ZoneInfo("UTC"))
        await session.flush()
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == before + 1
        await session.rollback()
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == before


async def test_the_log_pages_oldest_first_with_a_cursor_and_filters_by_type(
    admin_sales_client: AsyncClient, catalog: Catalog
) -> None:
    product = await catalog.product(category_id=await catalog.category(), stock=10)
    sale_ids = [
        (
            await admin_sales_client.post(
                "/api/v1/sales", json={"product_id": product, "quantity": 1}
            )
        ).json()["id"]
        for _ in range(3)
    ]
    first = await admin_sales_client.get(EVENTS, params={"type": "sale.recorded", "limit": 2})
    page = first.json()
    assert [event["data"]["id"] for event in page["items"]] == sale_ids[:2]
    rest = await admin_sales_client.get(
        EVENTS, params={"type": "sale.recorded", "cursor": page["next_cursor"]}
    )
    assert [event["data"]["id"] for event in rest.json()["items"]] == sale_ids[2:]
    assert rest.json()["next_cursor"] is None
    ids = [event["id"] for event in await _events(admin_sales_client)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("bad", ["sale.unknown", ""])
async def test_an_unknown_type_is_a_problem(admin_sales_client: AsyncClient, bad: str) -> None:
    response = await admin_sales_client.get(EVENTS, params={"type": bad})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
