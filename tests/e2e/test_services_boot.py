"""Both services start, describe themselves, and answer their probes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from httpx import AsyncClient

from common import __version__
from common.config import Settings
from common.db import Database
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.clients import serve

SERVICES = [
    (build_products_app, "E-commerce Manager - Products"),
    (build_sales_app, "E-commerce Manager - Sales"),
]


@pytest.fixture(params=SERVICES, ids=["products", "sales"])
async def service(
    request: pytest.FixtureRequest, settings: Settings, isolated_database: Database
) -> AsyncIterator[tuple[AsyncClient, str]]:
    build_app, title = request.param
    async for client in serve(build_app(settings=settings, database=isolated_database)):
        yield client, title


async def test_openapi_describes_the_product(service: tuple[AsyncClient, str]) -> None:
    client, title = service
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == title
    assert spec["info"]["version"] == __version__
    assert "e-commerce manager" in spec["info"]["description"].lower()
    assert "health" in {tag["name"] for tag in spec["tags"]}
    assert {"/health", "/ready"} <= set(spec["paths"])


async def test_swagger_and_redoc_are_served(service: tuple[AsyncClient, str]) -> None:
    client, _ = service
    docs = await client.get("/docs")
    redoc = await client.get("/redoc")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    assert redoc.status_code == 200
    assert "redoc" in redoc.text.lower()


async def test_health_and_ready(service: tuple[AsyncClient, str]) -> None:
    client, _ = service
    health = await client.get("/health")
    ready = await client.get("/ready")
    assert health.json() == {"status": "ok", "version": __version__}
    assert ready.json() == {"status": "ready", "database": "ok"}


async def test_metrics_count_requests(service: tuple[AsyncClient, str]) -> None:
    client, _ = service
    await client.get("/openapi.json")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'handler="/openapi.json"' in metrics.text
    assert "http_request_duration_seconds" in metrics.text
