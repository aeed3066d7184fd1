"""`/docs` and `/redoc` render in a real browser with no internet, from the service alone.

Both services run as deployed (uvicorn, a process each); headless Chromium (Debian's, through
`tests.fixtures.browser`) opens each page. Every request the page makes must go to the
service's own origin, the console must stay free of errors, and the UI must have rendered the
operations of the spec (not a blank page or an error box). The Content-Security-Policy is
shown to bite: a script on the page that reaches for another origin is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from common.db import Database
from common.models.identity import Role
from tests.fixtures.browser import artifact_path, launch_browser
from tests.fixtures.databases import migrated_backend
from tests.fixtures.factories import PASSWORD, make_account
from tests.fixtures.processes import PRODUCTS_APP, SALES_APP, ServiceProcess, free_port, running

SERVICES = {"products": PRODUCTS_APP, "sales": SALES_APP}


@pytest.fixture(scope="module")
async def service_urls(
    fresh_database_url: Callable[[str], object],
) -> AsyncIterator[dict[str, str]]:
    """Both services on one migrated SQLite database (the pages read no rows)."""
    backend = await migrated_backend(fresh_database_url, "sqlite")
    processes = {name: ServiceProcess(backend, app) for name, app in SERVICES.items()}
    async with running(*processes.values()):
        yield {name: process.url for name, process in processes.items()}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async for launched in launch_browser():
        yield launched


@dataclass
class PageLog:
    """What a page did while it loaded: every request, failure and console error."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def open_page(browser: Any, url: str) -> tuple[Any, PageLog, Any]:
    context = await browser.new_context()
    page = await context.new_page()
    log = PageLog()
    page.on("request", lambda request: log.requests.append(request.url))
    page.on("requestfailed", lambda request: log.failed.append(request.url))
    page.on(
        "console",
        lambda message: log.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: log.errors.append(str(error)))
    response = await page.goto(url, wait_until="networkidle")
    return page, log, response


async def spec_of(origin: str) -> tuple[dict[str, Any], int]:
    """The service's spec and how many operations it documents."""
    async with httpx.AsyncClient(base_url=origin) as client:
        spec: dict[str, Any] = (await client.get("/openapi.json")).json()
    return spec, sum(len(item) for item in spec["paths"].values())


def assert_stayed_home(log: PageLog, response: Any, origin: str, *, script: str) -> None:
    """Every request went to `origin` (among them `script` and the spec) and succeeded, the
    console stayed clean, and the page came with its policy."""
    # `data:` images are inline and ReDoc's worker is a `blob:` of the page's own origin.
    own = (origin + "/", "data:", f"blob:{origin}/")
    assert [url for url in log.requests if not url.startswith(own)] == []
    assert {f"{origin}{script}", f"{origin}/openapi.json"} <= set(log.requests)
    assert log.failed == []
    assert log.errors == []
    assert "default-src 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("service", list(SERVICES))
async def test_swagger_ui_renders_every_operation_offline(
    service: str, service_urls: dict[str, str], browser: Any
) -> None:
    origin = service_urls[service]
    spec, operations = await spec_of(origin)
    page, log, response = await open_page(browser, f"{origin}/docs")
    try:
        await page.wait_for_selector(".opblock", timeout=30_000)
        rendered = await page.locator(".opblock").count()
        titles = await page.locator(".info .title").all_inner_texts()
        authorize = await page.locator("button.authorize").count()
        await page.screenshot(path=artifact_path(f"docs-{service}.png"), full_page=False)
    finally:
        await page.context.close()
    assert rendered == operations
    assert spec["info"]["title"] in titles[0]
    assert authorize == 1  # the password flow's "Authorize" button
    assert_stayed_home(log, response, origin, script="/docs/static/swagger-ui-bundle.js")


@pytest.mark.parametrize("service", list(SERVICES))
async def test_redoc_renders_every_operation_offline(
    service: str, service_urls: dict[str, str], browser: Any
) -> None:
    origin = service_urls[service]
    spec, operations = await spec_of(origin)
    page, log, response = await open_page(browser, f"{origin}/redoc")
    try:
        await page.wait_for_selector("[data-section-id^='operation/']", timeout=60_000)
        rendered = await page.locator("[data-section-id^='operation/']").count()
        heading = await page.locator("h1").first.inner_text()
        await page.screenshot(path=artifact_path(f"redoc-{service}.png"), full_page=False)
    finally:
        await page.context.close()
    assert rendered == operations
    assert spec["info"]["title"] in heading
    assert_stayed_home(log, response, origin, script="/docs/redoc.js")


@pytest.mark.parametrize("page_path", ["/docs", "/redoc"])
async def test_the_pages_policy_refuses_other_origins(
    page_path: str, service_urls: dict[str, str], browser: Any
) -> None:
    """Another origin (here, a port of this machine nobody listens on) is refused by the
    browser before any connection: the policy, not the network, stops it."""
    origin = service_urls["products"]
    elsewhere = f"http://127.0.0.1:{free_port()}"
    page, _log, response = await open_page(browser, f"{origin}{page_path}")
    try:
        violations = await page.evaluate(
            """async (elsewhere) => {
                const seen = [];
                document.addEventListener("securitypolicyviolation",
                    (event) => seen.push(event.violatedDirective));
                try { await fetch(elsewhere + "/openapi.json"); } catch (error) {}
                const script = document.createElement("script");
                script.src = elsewhere + "/evil.js";
                const refused = new Promise((done) => { script.onerror = done; });
                document.head.appendChild(script);
                await refused;
                const inline = document.createElement("script");
                inline.textContent = "window.injected = true";
                document.head.appendChild(inline);
                await new Promise((done) => setTimeout(done, 200));
                return {seen, injected: window.injected === true};
            }""",
            elsewhere,
        )
    finally:
        await page.context.close()
    policy = response.headers["content-security-policy"]
    assert [word for word in ("http:", "https:", "*") if word in policy] == []
    assert sorted(set(violations["seen"])) == ["connect-src", "script-src-elem"]
    assert violations["injected"] is False  # an inline script not in the page's hashes


PREFIX = "/shop/products"
PROXY = "http://shop.test"


@pytest.fixture(scope="module")
async def prefixed(fresh_database_url: Callable[[str], object]) -> AsyncIterator[tuple[str, str]]:
    """The products service told it is served under `PREFIX` (uvicorn's `--root-path`, as a
    reverse proxy that strips the prefix needs), with an admin: (its URL, the admin's e-mail)."""
    backend = await migrated_backend(fresh_database_url, "sqlite")
    database = Database.from_settings(backend.settings)
    try:
        admin = await make_account(database, backend.settings, role=Role.admin)
    finally:
        await database.dispose()
    process = ServiceProcess(backend, PRODUCTS_APP, environment={"UVICORN_ROOT_PATH": PREFIX})
    async with running(process):
        yield process.url, admin.email


async def behind_the_prefix(page: Any, service_url: str) -> None:
    """The reverse proxy, played by the browser: `PROXY + PREFIX + path` is fetched from the
    service at `path`; anything else is refused."""

    async def forward(route: Any) -> None:
        url = route.request.url
        if not url.startswith(PROXY + PREFIX + "/"):
            await route.abort()
            return
        response = await route.fetch(url=service_url + url[len(PROXY + PREFIX) :])
        await route.fulfill(response=response)

    await page.route("**/*", forward)


async def test_docs_behind_a_path_prefix_reach_their_spec_and_sign_in(
    prefixed: tuple[str, str], browser: Any
) -> None:
    """Behind a proxy's prefix, Swagger UI loads its assets and spec under the prefix, signs in
    at the prefix's `auth/token` (the relative `tokenUrl`) and tries an operation there with
    the token it got; nothing is asked of the proxy's root."""
    service_url, admin_email = prefixed
    context = await browser.new_context()
    page = await context.new_page()
    log = PageLog()
    page.on("request", lambda request: log.requests.append(request.url))
    page.on("requestfailed", lambda request: log.failed.append(request.url))
    page.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
    await behind_the_prefix(page, service_url)
    try:
        await page.goto(f"{PROXY}{PREFIX}/docs", wait_until="networkidle")
        await page.wait_for_selector(".opblock", timeout=30_000)
        await page.click("button.authorize")
        await page.fill("#oauth_username", admin_email)
        await page.fill("#oauth_password", PASSWORD)
        async with page.expect_response(lambda r: r.url.endswith("/auth/token")) as signing_in:
            await page.click(".auth-btn-wrapper button.authorize")
        token = await signing_in.value
        await page.click(".auth-btn-wrapper button.btn-done")
        operation = page.locator("#operations-inventory-get_summary")
        await operation.locator(".opblock-summary").click()
        await operation.locator("button.try-out__btn").click()
        async with page.expect_response(lambda r: "/inventory/summary" in r.url) as trying:
            await operation.locator("button.execute").click()
        tried = await trying.value
        authorization = await tried.request.header_value("authorization")
    finally:
        await context.close()
    assert (token.url, token.status) == (f"{PROXY}{PREFIX}/auth/token", 200)
    assert (tried.url, tried.status) == (f"{PROXY}{PREFIX}/api/v1/inventory/summary", 200)
    assert authorization is not None
    assert authorization.startswith("Bearer ")
    assert f"{PROXY}{PREFIX}/openapi.json" in log.requests
    assert [url for url in log.requests if not url.startswith(f"{PROXY}{PREFIX}/")] == []
    assert log.failed == []
    assert log.errors == []
