"""The dashboard's sign-in and overview in headless Chromium, against both services as real
processes on a seeded store: what the page shows is what the public APIs answer."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.fixtures.dashboard import (
    DashboardStore,
    Watched,
    open_page,
    sign_in,
    wait_ready,
)

KPIS = {
    "kpi-net-revenue": "net_revenue",
    "kpi-units": "units",
    "kpi-profit": "profit",
    "kpi-margin": "margin",
}


def fixed_range(store: DashboardStore) -> dict[str, str]:
    return {
        "start": str(store.last_day - timedelta(days=55)),
        "end": str(store.last_day),
    }


async def open_overview(admin_page: Watched, query: dict[str, str]) -> None:
    address = "&".join(f"{key}={value}" for key, value in query.items())
    await admin_page.page.evaluate(f"location.hash = '#/overview?{address}'")
    await wait_ready(admin_page, "overview")


async def drawn_points(page: Any, test_id: str, trace: int) -> int:
    """Markers Plotly really drew for one trace of a chart."""
    return int(
        await page.evaluate(
            """([testId, trace]) => {
                const chart = document.querySelector(`[data-testid="${testId}"]`);
                const traces = chart.querySelectorAll(".scatterlayer .trace");
                return traces[trace] ? traces[trace].querySelectorAll("path.point").length : -1;
            }""",
            [test_id, trace],
        )
    )


async def test_an_admin_signs_in_to_the_overview(admin_page: Watched) -> None:
    page = admin_page.page
    assert await page.get_by_test_id("login-email").is_hidden()
    assert await page.get_by_test_id("kpi-net-revenue").get_attribute("data-value") not in (
        None,
        "",
    )
    await admin_page.screenshot("dashboard-overview.png")


async def test_a_customer_is_told_they_need_an_admin_account(
    dashboard_browser: Any, dashboard_store: DashboardStore
) -> None:
    async for watched in open_page(dashboard_browser, f"{dashboard_store.sales_url}/dashboard/"):
        await sign_in(watched, dashboard_store.customer_email, dashboard_store.password)
        error = watched.page.get_by_test_id("login-error")
        await error.filter(has_text="admin account").wait_for()
        assert await watched.page.get_by_test_id("kpi-net-revenue").is_hidden()
        assert await watched.page.evaluate("sessionStorage.length") == 0
        await watched.screenshot("dashboard-customer-refused.png")


async def test_a_wrong_password_is_refused(
    dashboard_browser: Any, dashboard_store: DashboardStore
) -> None:
    async for watched in open_page(dashboard_browser, f"{dashboard_store.sales_url}/dashboard/"):
        await sign_in(watched, dashboard_store.admin_email, "Not-the-password-1234")
        error = watched.page.get_by_test_id("login-error")
        await error.filter(has_text="password").wait_for()
        assert await watched.page.get_by_test_id("kpi-net-revenue").is_hidden()


async def test_each_kpi_equals_the_apis_figure_for_a_fixed_range(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    query = {**fixed_range(dashboard_store), "interval": "week", "compare": "previous_period"}
    await open_overview(admin_page, query)
    token = await dashboard_store.token(dashboard_store.admin_email)
    async with dashboard_store.api("sales", token) as api:
        summary = (await api.get("/analytics/summary", params=query)).json()
        orders = await api.get("/analytics/orders", params=query)
    page = admin_page.page
    for test_id, field in KPIS.items():
        shown = await page.get_by_test_id(test_id).get_attribute("data-value")
        assert Decimal(shown or "NaN") == Decimal(str(summary[field]["value"])), test_id
    orders_card = page.get_by_test_id("kpi-orders")
    value_card = page.get_by_test_id("kpi-average-order-value")
    if orders.status_code == 200:  # the order report (issue 16) is there
        assert await orders_card.get_attribute("data-source") == "orders"
        totals = orders.json()["totals"]
        assert int(await orders_card.get_attribute("data-value") or -1) == totals["orders_paid"]
        assert Decimal(await value_card.get_attribute("data-value") or "NaN") == Decimal(
            str(totals["average_order_value"])
        )
    else:
        assert orders.status_code == 404
        assert await orders_card.get_attribute("data-source") == "summary"
        count = summary["sales_count"]["value"]
        assert Decimal(await orders_card.get_attribute("data-value") or "NaN") == Decimal(count)
        assert Decimal(await value_card.get_attribute("data-value") or "NaN") == Decimal(
            str(summary["average_sale_value"]["value"])
        )
    assert summary["net_revenue"]["value"] != "0.00"  # the range really holds sales
    assert "vs previous period" in (await page.get_by_test_id("kpi-profit").text_content() or "")
    await admin_page.screenshot("dashboard-overview-fixed-range.png")


async def test_the_revenue_chart_draws_one_point_per_api_bucket(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    query = {**fixed_range(dashboard_store), "interval": "week", "compare": "none"}
    await open_overview(admin_page, query)
    report = await dashboard_store.admin_get("sales", "/analytics/revenue", **query)
    chart = admin_page.page.get_by_test_id("revenue-chart")
    buckets = len(report["buckets"])
    assert buckets in (8, 9)  # 56 days: 8 ISO weeks, 9 unless they start on a Monday
    assert await chart.get_attribute("data-points") == str(buckets)
    assert await drawn_points(admin_page.page, "revenue-chart", 0) == buckets
    assert await chart.get_attribute("data-points-comparison") is None
    assert await drawn_points(admin_page.page, "revenue-chart", 1) == -1


async def test_the_revenue_chart_draws_the_comparison_series_when_compare_is_on(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    query = {**fixed_range(dashboard_store), "interval": "day", "compare": "previous_period"}
    await open_overview(admin_page, query)
    report = await dashboard_store.admin_get("sales", "/analytics/revenue", **query)
    chart = admin_page.page.get_by_test_id("revenue-chart")
    assert len(report["buckets"]) == 56
    assert await chart.get_attribute("data-points") == "56"
    compared = len(report["comparison"]["buckets"])
    assert await chart.get_attribute("data-points-comparison") == str(compared)
    assert await drawn_points(admin_page.page, "revenue-chart", 0) == 56
    assert await drawn_points(admin_page.page, "revenue-chart", 1) == compared
    await admin_page.screenshot("dashboard-overview-compared.png")


async def test_the_controls_write_a_linkable_address(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    page = admin_page.page
    await page.get_by_test_id("interval-select").select_option("month")
    await wait_ready(admin_page, "overview")
    await page.get_by_test_id("compare-select").select_option("previous_year")
    await wait_ready(admin_page, "overview")
    address = await page.evaluate("location.hash")
    assert "interval=month" in address
    assert "compare=previous_year" in address
    # The same address in a new page (signed in) shows the same view.
    await page.reload()
    await wait_ready(admin_page, "overview")
    assert await page.get_by_test_id("interval-select").input_value() == "month"
    assert await page.get_by_test_id("compare-select").input_value() == "previous_year"
    # The demo's history is shorter than a year: nothing to compare with, and it says so.
    assert "none in the last year" in (await page.get_by_test_id("kpi-units").text_content() or "")


async def test_top_products_and_categories_are_the_apis(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    query = fixed_range(dashboard_store)
    await open_overview(admin_page, {**query, "interval": "week", "compare": "none"})
    top = await dashboard_store.admin_get(
        "sales", "/analytics/revenue/by-product", **query, limit=10
    )
    categories = await dashboard_store.admin_get("sales", "/analytics/revenue/by-category", **query)
    rows = admin_page.page.get_by_test_id("top-products-table").locator("tbody tr")
    shown = [await row.get_attribute("data-product-id") for row in await rows.all()]
    assert shown == [str(item["product_id"]) for item in top["items"]]
    chart = admin_page.page.get_by_test_id("category-chart")
    assert await chart.get_attribute("data-points") == str(len(categories["items"]))


async def test_the_page_asks_only_the_two_services_and_logs_no_error(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    await open_overview(admin_page, {**fixed_range(dashboard_store), "compare": "previous_year"})
    origins = {
        f"{parts.scheme}://{parts.netloc}"
        for parts in map(urlsplit, admin_page.requests)
        if parts.scheme not in ("data", "blob")
    }
    assert dashboard_store.sales_url in origins
    assert origins <= dashboard_store.origins
    assert admin_page.console_errors == []


async def test_the_page_refreshes_its_token_before_it_expires(admin_page: Watched) -> None:
    # The test services issue 60-second tokens; the page renews them a minute early (at
    # least 5 s after the last renewal), so a new one arrives within seconds.
    page = admin_page.page
    first = await page.evaluate("JSON.parse(sessionStorage.getItem('dashboard.session')).access")
    await page.wait_for_function(
        "first => JSON.parse(sessionStorage.getItem('dashboard.session')).access !== first",
        arg=first,
        timeout=20_000,
    )
    await page.reload()
    await wait_ready(admin_page, "overview")


async def test_signing_out_revokes_the_session(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    page = admin_page.page
    refresh = await page.evaluate("JSON.parse(sessionStorage.getItem('dashboard.session')).refresh")
    await page.get_by_test_id("sign-out").click()
    await page.get_by_test_id("login-email").wait_for()
    async with httpx.AsyncClient(base_url=dashboard_store.sales_url) as client:
        response = await client.post("/auth/refresh", json={"refresh_token": refresh})
    assert response.status_code == 401
    assert await page.evaluate("sessionStorage.getItem('dashboard.session')") is None


async def test_a_reports_csv_holds_exactly_what_it_shows(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    query = fixed_range(dashboard_store)
    await open_overview(admin_page, {**query, "interval": "week", "compare": "previous_period"})
    top = await dashboard_store.admin_get(
        "sales", "/analytics/revenue/by-product", **query, limit=10
    )
    revenue = await dashboard_store.admin_get(
        "sales", "/analytics/revenue", **query, interval="week", compare="previous_period"
    )
    page = admin_page.page
    products = await download_csv(page, "products")
    assert products[0] == ["SKU", "Product", "Units", "Net revenue", "Profit"]
    assert products[1:] == [
        [item["sku"], item["name"], str(item["units"]), item["net_revenue"], item["profit"]]
        for item in top["items"]
    ]
    buckets = await download_csv(page, "revenue")
    assert [row[0] for row in buckets[1:]] == [b["start"] for b in revenue["buckets"]]
    assert [row[2] for row in buckets[1:]] == [b["net_revenue"] for b in revenue["buckets"]]
    assert [row[-1] for row in buckets[1:]] == [
        b["net_revenue"] for b in revenue["comparison"]["buckets"]
    ]


async def download_csv(page: Any, name: str) -> list[list[str]]:
    async with page.expect_download() as download_info:
        await page.locator(f'button.csv[data-csv="{name}"]').click()
    download = await download_info.value
    text = await asyncio.to_thread(Path(await download.path()).read_text, "utf-8")
    return list(csv.reader(io.StringIO(text)))
