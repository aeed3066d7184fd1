"""The dashboard's files as the sales service serves them: settings filled in, plotly.js from
the installed package, compressed, cached by version, and a policy that lets the page reach
the two services and nothing else."""

from __future__ import annotations

import re

from httpx import AsyncClient

from common.config import Settings
from common.db import Database
from sales_microservice.dashboard.assets import plotly_path
from sales_microservice.main import build_app
from tests.fixtures.clients import serve


async def test_the_page_names_the_products_api_and_allows_only_the_two_origins(
    settings: Settings, isolated_database: Database
) -> None:
    configured = settings.model_copy(update={"products_public_url": "https://products.example"})
    async for client in serve(build_app(settings=configured, database=isolated_database)):
        response = await client.get("/dashboard/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<meta name="products-url" content="https://products.example">' in response.text
    policy = response.headers["content-security-policy"]
    assert "connect-src 'self' https://products.example;" in policy
    assert "script-src 'self';" in policy
    assert "default-src 'none'" in policy
    # Nothing the page links lives elsewhere.
    links = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert links
    assert all(not re.match(r"^[a-z]+://|^//", link) for link in links), links


async def test_the_optional_reports_are_the_ones_the_service_has(sales_client: AsyncClient) -> None:
    page = (await sales_client.get("/dashboard/")).text
    (listed,) = re.findall(r'<meta name="optional-reports" content="([^"]*)">', page)
    paths = {path for path in (await sales_client.get("/openapi.json")).json()["paths"]}
    expected = [
        name
        for name, path in (
            ("orders", "/api/v1/analytics/orders"),
            ("customers", "/api/v1/analytics/customers"),
            ("top-customers", "/api/v1/analytics/customers/top"),
        )
        if path in paths
    ]
    assert listed.split() == expected


async def test_plotly_is_the_installed_packages_file_gzipped(sales_client: AsyncClient) -> None:
    response = await sales_client.get(
        "/dashboard/plotly.min.js", headers={"Accept-Encoding": "gzip"}
    )
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.content == plotly_path().read_bytes()  # httpx inflated it
    compressed = int(response.headers["content-length"])
    assert compressed < len(response.content) / 2


async def test_an_asset_is_linked_by_its_version_and_revalidated_by_etag(
    sales_client: AsyncClient,
) -> None:
    page = (await sales_client.get("/dashboard/")).text
    (version,) = re.findall(r'src="app.js\?v=([0-9a-f]+)"', page)
    first = await sales_client.get(f"/dashboard/app.js?v={version}")
    assert first.headers["etag"] == f'"{version}"'
    assert "max-age=86400" in first.headers["cache-control"]
    again = await sales_client.get("/dashboard/app.js", headers={"If-None-Match": f'"{version}"'})
    assert again.status_code == 304
    assert again.content == b""
    plain = await sales_client.get("/dashboard/app.css", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text.startswith("/*")


async def test_the_page_is_never_cached_stale(sales_client: AsyncClient) -> None:
    response = await sales_client.get("/dashboard/")
    assert response.headers["cache-control"] == "no-cache"
    redirected = await sales_client.get("/dashboard")
    assert redirected.status_code == 307
    assert redirected.headers["location"].endswith("/dashboard/")
