"""The dashboard's orders and customers in headless Chromium: lists with filters, an order's
lines, history and next actions, a customer's profile, wallet and orders; and the overview's
order and customer reports, shown only when the sales service has them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.dashboard import DashboardStore, Watched, wait_ready


async def open_view(admin_page: Watched, address: str) -> None:
    await admin_page.page.evaluate(f"location.hash = '#/{address}'")
    await wait_ready(admin_page, address.split("?")[0])


async def row_ids(page: Any, test_id: str, attribute: str) -> list[str]:
    rows = await page.get_by_test_id(test_id).locator("tbody tr").all()
    return [await row.get_attribute(attribute) or "" for row in rows]


async def test_the_orders_table_is_the_apis_list(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    await open_view(admin_page, "orders")
    orders = await dashboard_store.admin_get("sales", "/orders", limit=50)
    assert orders["items"]
    shown = await row_ids(admin_page.page, "orders-table", "data-order-id")
    assert shown == [str(order["id"]) for order in orders["items"]]
    await admin_page.screenshot("dashboard-orders.png")


async def test_the_status_filter_lists_the_apis_orders_of_that_status(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    await open_view(admin_page, "orders")
    page = admin_page.page
    await page.get_by_test_id("orders-status").select_option("paid")
    await page.get_by_test_id("orders-status").evaluate("select => select.form.requestSubmit()")
    await wait_ready(admin_page, "orders")
    paid = await dashboard_store.admin_get("sales", "/orders", status="paid", limit=50)
    assert paid["items"]
    shown = await row_ids(page, "orders-table", "data-order-id")
    assert shown == [str(order["id"]) for order in paid["items"]]
    assert "status=paid" in await page.evaluate("location.hash")


async def test_an_orders_lines_history_and_shipping_from_the_page(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    paid = await dashboard_store.admin_get("sales", "/orders", status="paid", limit=1)
    order = paid["items"][0]
    await open_view(admin_page, f"orders?status=paid&order={order['id']}")
    page = admin_page.page
    history = await dashboard_store.admin_get("sales", f"/orders/{order['id']}/history")
    detail = page.get_by_test_id("order-detail")
    assert await detail.get_attribute("data-order-id") == str(order["id"])
    lines = await page.get_by_test_id("order-lines").locator("tbody tr").count()
    assert lines == len(order["items"])
    entries = await page.get_by_test_id("order-history").locator("tbody tr").count()
    assert entries == len(history)
    actions = await page.get_by_test_id("order-actions").locator("button").all_text_contents()
    assert actions == ["Ship", "Refund"]
    await admin_page.screenshot("dashboard-order-detail.png")
    await page.get_by_test_id("order-ship").click()
    await page.get_by_test_id("order-status").filter(has_text="shipped").wait_for()
    after = await dashboard_store.admin_get("sales", f"/orders/{order['id']}")
    assert after["status"] == "shipped"
    actions = await page.get_by_test_id("order-actions").locator("button").all_text_contents()
    assert actions == ["Deliver"]


async def test_a_customers_profile_wallet_and_orders_are_the_apis(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    await open_view(admin_page, "customers")
    page = admin_page.page
    customers = await dashboard_store.admin_get("sales", "/customers", role="customer", limit=50)
    shown = await row_ids(page, "customers-table", "data-customer-id")
    assert shown == [str(customer["id"]) for customer in customers["items"]]
    orders = await dashboard_store.admin_get("sales", "/orders", status="paid", limit=1)
    customer_id = orders["items"][0]["customer_id"]
    await page.locator(
        f'[data-testid="customers-table"] tr[data-customer-id="{customer_id}"]'
    ).click()
    await wait_ready(admin_page, "customers")
    entries = await dashboard_store.admin_get(
        "sales", f"/customers/{customer_id}/wallet/entries", limit=50
    )
    placed = await dashboard_store.admin_get("sales", f"/customers/{customer_id}/orders", limit=50)
    assert await page.get_by_test_id("customer-detail").get_attribute("data-customer-id") == str(
        customer_id
    )
    wallet_rows = await page.get_by_test_id("customer-wallet-entries").locator("tbody tr").count()
    assert wallet_rows == len(entries["items"])
    assert await row_ids(page, "customer-orders", "data-order-id") == [
        str(order["id"]) for order in placed["items"]
    ]
    await admin_page.screenshot("dashboard-customer.png")


async def test_the_order_and_customer_reports_show_when_the_service_has_them(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    """Before the order and customer reports exist the panels are hidden; once they do, each
    chart draws one bucket per API bucket."""
    async with httpx.AsyncClient(base_url=dashboard_store.sales_url) as client:
        spec = (await client.get("/openapi.json")).json()
    page = admin_page.page
    panels = {
        "orders-panel": "/api/v1/analytics/orders",
        "customers-panel": "/api/v1/analytics/customers",
        "top-customers-panel": "/api/v1/analytics/customers/top",
    }
    for panel, path in panels.items():
        assert await page.get_by_test_id(panel).is_visible() == (path in spec["paths"]), panel
    if "/api/v1/analytics/orders" in spec["paths"]:
        report = await dashboard_store.admin_get("sales", "/analytics/orders")
        chart = page.get_by_test_id("orders-chart")
        assert await chart.get_attribute("data-points") == str(len(report["buckets"]))
    if "/api/v1/analytics/customers" in spec["paths"]:
        report = await dashboard_store.admin_get("sales", "/analytics/customers")
        chart = page.get_by_test_id("customers-chart")
        assert await chart.get_attribute("data-points") == str(len(report["buckets"]))
