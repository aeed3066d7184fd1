"""The dashboard's review queue and catalog import in headless Chromium: a moderation from
the page is what the products API then answers; a dry run shows each bad row's line."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from tests.fixtures.dashboard import DashboardStore, Watched, wait_ready


async def open_view(admin_page: Watched, view: str) -> None:
    await admin_page.page.evaluate(f"location.hash = '#/{view}'")
    await wait_ready(admin_page, view)


async def queue_ids(page: Any) -> list[str]:
    rows = await page.get_by_test_id("reviews-queue").locator("tbody tr").all()
    return [await row.get_attribute("data-review-id") or "" for row in rows]


async def test_the_queue_is_the_apis_pending_reviews(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    await open_view(admin_page, "reviews")
    pending = await dashboard_store.admin_get("products", "/reviews", status="pending", limit=50)
    assert pending["items"]  # the demo leaves some reviews waiting
    assert await queue_ids(admin_page.page) == [str(item["id"]) for item in pending["items"]]
    await admin_page.screenshot("dashboard-reviews.png")


async def moderate_first(admin_page: Watched, decision: str, note: str) -> dict[str, Any]:
    page = admin_page.page
    await open_view(admin_page, "reviews")
    review_id = (await queue_ids(page))[0]
    row = page.locator(f'[data-testid="reviews-queue"] tr[data-review-id="{review_id}"]')
    await row.get_by_test_id("review-note").fill(note)
    await row.get_by_test_id(f"review-{decision}").click()
    await row.wait_for(state="detached")
    return {"id": int(review_id)}


async def test_approving_a_review_from_the_queue_publishes_it(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    review = await moderate_first(admin_page, "approve", "Helpful and on topic")
    approved = await dashboard_store.admin_get("products", "/reviews", status="approved", limit=200)
    (published,) = [item for item in approved["items"] if item["id"] == review["id"]]
    assert published["moderation_note"] == "Helpful and on topic"
    # Published: the product's public list (no token) shows it.
    public = await dashboard_store.public_get(
        "products", f"/products/{published['product_id']}/reviews", limit=200
    )
    assert review["id"] in [item["id"] for item in public["items"]]
    assert str(review["id"]) not in await queue_ids(admin_page.page)


async def test_rejecting_a_review_keeps_it_unpublished(
    admin_page: Watched, dashboard_store: DashboardStore
) -> None:
    review = await moderate_first(admin_page, "reject", "Off topic")
    rejected = await dashboard_store.admin_get("products", "/reviews", status="rejected", limit=200)
    (found,) = [item for item in rejected["items"] if item["id"] == review["id"]]
    public = await dashboard_store.public_get(
        "products", f"/products/{found['product_id']}/reviews", limit=200
    )
    assert review["id"] not in [item["id"] for item in public["items"]]


def catalog_file(tmp_path: Path, rows: list[str]) -> tuple[Path, list[str]]:
    skus = [f"DASH-{secrets.token_hex(4).upper()}" for _ in rows]
    lines = ["sku,name,category,price"]
    lines += [row.format(sku=sku) for row, sku in zip(rows, skus, strict=True)]
    path = tmp_path / "catalog.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, skus


async def product_count(store: DashboardStore, sku: str) -> int:
    found = await store.admin_get("products", "/products", q=sku)
    return sum(1 for item in found["items"] if item["sku"] == sku)


async def test_a_dry_run_of_a_file_with_a_bad_row_shows_that_rows_line(
    admin_page: Watched, dashboard_store: DashboardStore, tmp_path: Path
) -> None:
    path, skus = catalog_file(
        tmp_path,
        ["{sku},Good one,Books,12.50", "{sku},Good two,Books,3.00", "{sku},Bad price,Books,abc"],
    )
    await open_view(admin_page, "import")
    page = admin_page.page
    await page.get_by_test_id("import-file").set_input_files(str(path))
    await page.get_by_test_id("import-dry-run").click()
    row = page.locator('[data-testid="import-errors"] tbody tr')
    await row.first.wait_for()
    assert [await r.get_attribute("data-line") for r in await row.all()] == ["4"]
    assert "price" in (await row.first.text_content() or "")
    assert await page.get_by_test_id("import-submit").is_disabled()
    for sku in skus:
        assert await product_count(dashboard_store, sku) == 0  # a dry run wrote nothing
    await admin_page.screenshot("dashboard-import-errors.png")


async def test_a_clean_dry_run_then_import_creates_the_products(
    admin_page: Watched, dashboard_store: DashboardStore, tmp_path: Path
) -> None:
    path, skus = catalog_file(tmp_path, ["{sku},Imported one,Books,4.20", "{sku},Two,Books,5"])
    await open_view(admin_page, "import")
    page = admin_page.page
    await page.get_by_test_id("import-file").set_input_files(str(path))
    await page.get_by_test_id("import-dry-run").click()
    result = page.get_by_test_id("import-result")
    await result.filter(has_text="would be created").wait_for()
    assert await product_count(dashboard_store, skus[0]) == 0
    await page.get_by_test_id("import-submit").click()
    await result.filter(has_text="were created").wait_for()
    assert [await product_count(dashboard_store, sku) for sku in skus] == [1, 1]
    assert await page.get_by_test_id("import-errors").locator("tbody tr").count() == 0
