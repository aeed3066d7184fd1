"""The dashboard's inventory page in headless Chromium: low stock, value by category, a
product's stock chart and movements, an adjustment, the roll-forward; each as the products
API answers it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.fixtures.dashboard import DashboardStore, Watched, wait_ready


async def open_inventory(admin_page: Watched, product_id: int | None = None) -> None:
    address = f"#/inventory?product={product_id}" if product_id else "#/inventory"
    await admin_page.page.evaluate(f"location.hash = '{address}'")
    await wait_ready(admin_page, "inventory")


async def row_ids(page: Any, test_id: str, attribute: str) -> list[str]:
    rows = await page.get_by_test_id(test_id).locator("tbody tr").all()
    return [await row.get_attribute(attribute) or "" for row in rows]


async def test_the_low_stock_table_lists_exactly_the_apis_products_in_its_order(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    await open_inventory(admin_page)
    low = await dashboard_store.admin_get("products", "/inventory/low-stock", limit=50)
    expected = [str(item["product_id"]) for item in low["items"]]
    assert expected  # the demo neglects some products: there is low stock to show
    page = admin_page.page
    assert await row_ids(page, "low-stock-table", "data-product-id") == expected
    first = page.get_by_test_id("low-stock-table").locator("tbody tr").first
    cells = await first.locator("td").all_text_contents()
    item = low["items"][0]
    assert cells[2:5] == [
        str(item["available"]),
        str(item["low_stock_threshold"]),
        str(item["shortfall"]),
    ]
    await admin_page.screenshot("dashboard-inventory.png")


async def test_inventory_value_by_category_is_the_apis(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    await open_inventory(admin_page)
    summary = await dashboard_store.admin_get("products", "/inventory/summary")
    rows = await admin_page.page.get_by_test_id("inventory-value-table").locator("tbody tr").all()
    shown = [(await row.locator("td").all_text_contents())[0] for row in rows]
    assert shown == [category["category_name"] for category in summary["by_category"]]


async def test_a_products_stock_chart_has_one_point_per_api_level_bucket(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    low = await dashboard_store.admin_get("products", "/inventory/low-stock", limit=1)
    product_id = low["items"][0]["product_id"]
    await open_inventory(admin_page, product_id)
    levels = await dashboard_store.admin_get(
        "products", f"/products/{product_id}/inventory/levels", interval="day"
    )
    movements = await dashboard_store.admin_get(
        "products", f"/products/{product_id}/inventory/movements", limit=25
    )
    page = admin_page.page
    chart = page.get_by_test_id("stock-chart")
    assert len(levels["points"]) > 1
    assert await chart.get_attribute("data-points") == str(len(levels["points"]))
    assert await chart.get_attribute("data-product-id") == str(product_id)
    drawn = await page.evaluate(
        """() => {
            const chart = document.querySelector('[data-testid="stock-chart"]');
            return chart.data[0].y;
        }"""
    )
    assert drawn == [point["level"] for point in levels["points"]]
    assert await row_ids(page, "movements-table", "data-movement-id") == [
        str(movement["id"]) for movement in movements["items"]
    ]
    await admin_page.screenshot("dashboard-stock-chart.png")


async def test_an_adjustment_from_the_form_is_recorded_in_the_ledger(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    low = await dashboard_store.admin_get("products", "/inventory/low-stock", limit=1)
    product_id = low["items"][0]["product_id"]
    await open_inventory(admin_page, product_id)
    before = await dashboard_store.admin_get("products", f"/products/{product_id}/inventory")
    page = admin_page.page
    await page.get_by_test_id("adjust-mode").select_option("delta")
    await page.get_by_test_id("adjust-quantity").fill("7")
    await page.get_by_test_id("adjust-kind").select_option("restock")
    await page.get_by_test_id("adjust-note").fill("Counted by the dashboard test")
    await page.get_by_test_id("adjust-submit").click()
    await page.get_by_test_id("adjust-message").filter(has_text="Recorded").wait_for()
    await wait_ready(admin_page, "inventory")
    after = await dashboard_store.admin_get("products", f"/products/{product_id}/inventory")
    assert after["on_hand"] == before["on_hand"] + 7
    first = page.get_by_test_id("movements-table").locator("tbody tr").first
    cells = await first.locator("td").all_text_contents()
    assert cells[1:4] == ["restock", "+7", str(after["on_hand"])]
    assert cells[5] == "Counted by the dashboard test"


async def test_the_roll_forward_table_is_the_apis_for_the_overviews_range(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    await open_inventory(admin_page)
    range_ = await admin_page.page.evaluate(
        "Object.fromEntries(new URLSearchParams(sessionStorage.getItem('dashboard.range')))"
    )
    report = await dashboard_store.admin_get(
        "products", "/inventory/roll-forward", **range_, limit=50
    )
    shown = await row_ids(admin_page.page, "roll-forward-table", "data-product-id")
    assert shown == [str(item["product_id"]) for item in report["items"]]
    assert shown


async def test_the_pages_ask_only_the_two_services_and_log_no_error(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    await open_inventory(admin_page)
    origins = {
        f"{parts.scheme}://{parts.netloc}"
        for parts in map(urlsplit, admin_page.requests)
        if parts.scheme not in ("data", "blob")
    }
    # The overview (sales) and the inventory (products): both origins, nothing else.
    assert origins == dashboard_store.origins
    assert admin_page.console_errors == []
