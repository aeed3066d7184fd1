"""Dashboard scenario: how long the overview of the demo store takes to finish loading in
headless Chromium (Debian's package, driven by Playwright), cold and warm, and what it weighs.

The demo store is the default one (`common.ops.demo`: 200 products, a year, 50,000 sales,
2,000 orders) on MySQL; both services run as deployed, the products API on its own origin
with CORS for the dashboard's. A load is timed from the navigation's start to the moment the
overview says it is ready (every report drawn): *cold* in a fresh browser context (empty
HTTP cache), *warm* as a new page in the same context (assets from the cache), *hot* as the
third (Chromium keeps a script's compiled code from its second load on). The floor,
measured in the same run, is the overview's API calls alone, sent at once from Python: what
the page cannot beat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

from bench import harness
from common.ops.demo.options import DemoOptions

# Debian's chromium with the browser tests' flags (never a browser Playwright downloads).
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS

STORE = "bench_dashboard"
# Milliseconds since the navigation started, once the overview has drawn every report.
READY = """() => {
    const status = document.querySelector('[data-testid="view-status"]');
    if (!status || status.dataset.view !== "overview") return false;
    if (status.dataset.state === "error") throw new Error(status.textContent);
    return status.dataset.state === "ready" ? performance.now() : false;
}"""
TARGET_MS = 1000.0
KIB = 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("dashboard")
    group.add_argument("--dashboard-repeat", type=int, default=10, help="loads of each kind")


@dataclass
class Load:
    milliseconds: float
    requests: int
    transferred: int
    decoded: int
    # The renderer's main thread, busy (tasks) and running script, as Chromium counts it:
    # what the load costs the CPU, apart from waiting for a core on a shared machine.
    task_ms: float
    script_ms: float


def overview_calls() -> list[str]:
    """The overview's API requests as the page sends them by default (the last 30 days of
    the store, which the bench runs in UTC; by day; no comparison)."""
    end = datetime.now(UTC).date()
    period = f"start={end - timedelta(days=29)}&end={end}"
    return [
        f"/api/v1/analytics/summary?{period}&compare=none",
        f"/api/v1/analytics/revenue?{period}&compare=none&interval=day",
        f"/api/v1/analytics/revenue/by-category?{period}",
        f"/api/v1/analytics/revenue/by-product?{period}&limit=10",
    ]


async def _load(context: Any, address: str, *, weigh: bool) -> Load:
    page = await context.new_page()
    devtools = await context.new_cdp_session(page)
    await devtools.send("Performance.enable")
    finished: list[Any] = []
    page.on("requestfinished", lambda request: finished.append(request))
    await page.goto(address)
    handle = await page.wait_for_function(READY, polling=5, timeout=60_000)
    milliseconds = float(await handle.json_value())
    metrics = {
        metric["name"]: metric["value"]
        for metric in (await devtools.send("Performance.getMetrics"))["metrics"]
    }
    transferred = decoded = 0
    for request in finished:
        sizes = await request.sizes()
        transferred += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        if weigh:
            response = await request.response()
            decoded += len(await response.body()) if response is not None else 0
    await page.close()
    return Load(
        milliseconds,
        len(finished),
        transferred,
        decoded,
        task_ms=metrics["TaskDuration"] * 1000,
        script_ms=metrics["ScriptDuration"] * 1000,
    )


# plotly.js alone, fetched and run in a page of the same origin: what the charting library
# costs before the page does anything of its own.
PLOTLY_ALONE = """url => new Promise((resolve, reject) => {
    const started = performance.now();
    const script = document.createElement("script");
    script.src = url;
    script.onload = () => resolve(performance.now() - started);
    script.onerror = () => reject(new Error("plotly.js did not load"));
    document.head.append(script);
})"""


async def _plotly_alone(browser: Any, base_url: str) -> float:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{base_url}/health")
    milliseconds = float(await page.evaluate(PLOTLY_ALONE, f"{base_url}/dashboard/plotly.min.js"))
    await context.close()
    return milliseconds


async def run(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    url = await harness.demo_database(args, STORE, DemoOptions())
    headers = await harness.admin_headers(url)
    # The page's own session, as the sign-in form would have stored it.
    session = {
        "access": headers["Authorization"].removeprefix("Bearer "),
        "refresh": "",
        "expiresAt": (datetime.now(UTC) + timedelta(hours=12)).timestamp() * 1000,
        "email": harness.ADMIN_EMAIL,
    }
    sign_in = (
        "try { sessionStorage.setItem('dashboard.session', "
        f"{json.dumps(json.dumps(session))}); }} catch (error) {{}}"
    )
    sales_port = harness.free_port()
    sales_origin = f"http://127.0.0.1:{sales_port}"
    async with (
        harness.running(
            "products",
            "products_microservice.main:app",
            url,
            env={"CORS_ORIGINS": sales_origin},
        ) as products,
        harness.running(
            "sales",
            "sales_microservice.main:app",
            url,
            env={"PRODUCTS_PUBLIC_URL": products.base_url},
            port=sales_port,
        ) as sales,
        harness.client_for(sales, concurrency=4, headers=headers) as client,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        address = f"{sales.base_url}/dashboard/#/overview"
        cold: list[Load] = []
        warm: list[Load] = []
        hot: list[Load] = []
        plotly_alone: list[float] = []
        # One round first, not counted: the service reads and compresses its files once.
        for attempt in range(args.dashboard_repeat + 1):
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            await context.add_init_script(sign_in)
            loads = [await _load(context, address, weigh=attempt == 1 and n == 0) for n in range(3)]
            await context.close()
            alone = await _plotly_alone(browser, sales.base_url)
            if attempt:
                for kind, load in zip((cold, warm, hot), loads, strict=True):
                    kind.append(load)
                plotly_alone.append(alone)
        await browser.close()
        calls = overview_calls()

        async def api_calls() -> None:
            for response in await asyncio.gather(*(client.get(path) for path in calls)):
                response.raise_for_status()

        floor = await harness.time_calls(
            "overview's 4 API calls at once (floor)", api_calls, repeat=args.dashboard_repeat
        )
    results = [
        floor,
        harness.Result(
            "plotly.js alone, cold (fetch + compile + run)",
            len(plotly_alone),
            sum(plotly_alone) / 1000,
            plotly_alone,
        ),
        _result("overview, cold (empty cache)", cold),
        _result("overview, warm (cached assets)", warm),
        _result("overview, hot (cached, compiled code cached)", hot),
    ]
    weight = cold[0]
    worst_cold = max(load.milliseconds for load in cold)
    harness.print_table(
        "dashboard: the demo store's overview in headless Chromium, load to ready",
        results,
        baseline=floor,
        ratio="latency",
        notes=(
            f"page weight (cold): {weight.requests} requests, "
            f"{weight.transferred / KIB:.0f} KiB transferred, {weight.decoded / KIB:.0f} KiB "
            f"decoded; warm: {warm[0].transferred / KIB:.0f} KiB transferred\n"
            f"target: the overview ready within {TARGET_MS:.0f} ms: "
            f"{'met' if worst_cold <= TARGET_MS else 'MISSED'} "
            f"(slowest cold load {worst_cold:.0f} ms)"
        ),
    )


def _result(name: str, loads: list[Load]) -> harness.Result:
    latencies = [load.milliseconds for load in loads]
    result = harness.Result(name, len(loads), sum(latencies) / 1000, latencies)
    result.extra["requests/load"] = str(loads[0].requests)
    result.extra["KiB transferred"] = f"{loads[0].transferred / KIB:.0f}"
    result.extra["main thread busy ms p50"] = f"{median(load.task_ms for load in loads):.0f}"
    result.extra["script ms p50"] = f"{median(load.script_ms for load in loads):.0f}"
    return result
