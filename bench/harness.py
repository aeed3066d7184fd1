"""What every scenario shares: a fresh MariaDB/MySQL database, the service under test started as
deployed (uvicorn, uvloop, httptools, one worker) with its peak RSS watched, an admin token,
measurement at fixed concurrency with an async httpx client, and the table of results.

Client, server and database share the machine, so every table states its figures as ratios to
a baseline measured in the same run: absolute numbers move with whatever else is running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import aiomysql
import httpx
import psutil
from alembic import command
from sqlalchemy.engine import make_url

from common.config import Settings
from common.db import Database, run_in_transaction
from common.identity.accounts import create_or_promote_admin
from common.identity.tokens import create_access_token
from common.migrations import alembic_config
from common.ops.demo.options import DemoOptions
from common.ops.demo.seed import seed_demo_data

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "mysql+asyncmy://root@127.0.0.1:3306/"
# One secret per run, shared by the services started here and the tokens minted here.
JWT_SECRET = secrets.token_urlsafe(48)
ADMIN_EMAIL = "bench-admin@example.com"
RSS_SAMPLE_SECONDS = 0.05
MIB = 1024 * 1024

Send = Callable[[httpx.AsyncClient, random.Random], Awaitable[httpx.Response]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every scenario understands."""
    parser.add_argument(
        "--server-url",
        default=os.environ.get("BENCH_MYSQL_URL", DEFAULT_SERVER_URL),
        help="MySQL-family server; each scenario drops and recreates its own bench_* database",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint, at most")
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint, at most")
    parser.add_argument(
        "--reuse", action="store_true", help="keep databases already seeded by an earlier run"
    )


def settings_for(database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        jwt_secret=JWT_SECRET,
        app_env="development",
        log_level="WARNING",
        access_token_ttl_seconds=24 * 3600,
    )


# --- databases -------------------------------------------------------------------------------


async def connect(server_url: str, database: str | None) -> aiomysql.Connection:
    url = make_url(server_url)
    return await aiomysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        db=database,
        charset="utf8mb4",
        autocommit=False,
    )


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def database_exists(server_url: str, name: str) -> bool:
    connection = await connect(server_url, None)
    try:
        async with connection.cursor() as cursor:
            await cursor.execute("SHOW DATABASES LIKE %s", (name,))
            return await cursor.fetchone() is not None
    finally:
        connection.close()


async def recreate_database(server_url: str, name: str) -> str:
    """Drop `name`, create it empty and migrate it; its URL."""
    connection = await connect(server_url, None)
    try:
        async with connection.cursor() as cursor:
            with warnings.catch_warnings():
                # MariaDB notes "database doesn't exist" as a warning; that is the point of IF.
                warnings.simplefilter("ignore")
                await cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            await cursor.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        connection.close()
    url = database_url(server_url, name)
    config = alembic_config(url, settings=settings_for(url))
    config.attributes["configure_logger"] = False
    await asyncio.to_thread(command.upgrade, config, "head")
    return url


async def analyze(server_url: str, name: str, tables: Collection[str]) -> None:
    """Fresh index statistics, as a long-running database would have them."""
    connection = await connect(server_url, name)
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(f"ANALYZE TABLE {', '.join(tables)}")
            await cursor.fetchall()
    finally:
        connection.close()


async def demo_database(
    args: argparse.Namespace, name: str, options: DemoOptions, *, quiet: bool = False
) -> str:
    """A database holding the demo store of `options` (seeded by `common.ops.demo`), reused as
    it is with `--reuse` when it exists."""
    if args.reuse and await database_exists(args.server_url, name):
        return database_url(args.server_url, name)
    url = await recreate_database(args.server_url, name)
    started = time.perf_counter()
    summary = await seed_demo_data(settings_for(url), options, progress=not quiet)
    print(
        f"seeded {name}: {summary.products} products, {summary.sales} sales, "
        f"{summary.refunds} refunds, {summary.movements} movements "
        f"in {time.perf_counter() - started:.0f} s"
    )
    await analyze(
        args.server_url,
        name,
        (
            "category",
            "product",
            "inventory_movement",
            "sale",
            "sales_daily",
            "sales_daily_category",
        ),
    )
    return url


async def admin_headers(url: str) -> dict[str, str]:
    """A bearer token of an admin account of that database (created when missing)."""
    settings = settings_for(url)
    database = Database.from_settings(settings)
    try:
        account, _ = await run_in_transaction(
            database.session_factory,
            lambda session: create_or_promote_admin(
                session, email=ADMIN_EMAIL, password=secrets.token_urlsafe(16), settings=settings
            ),
        )
    finally:
        await database.dispose()
    token = create_access_token(user_id=account.id, role=account.role, settings=settings)
    return {"Authorization": f"Bearer {token.token}"}


# --- services --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Service:
    name: str
    base_url: str
    process: psutil.Process
    peak_rss: int = 0

    def sample(self) -> None:
        with suppress(psutil.Error):
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss / MIB


@asynccontextmanager
async def running(
    name: str, app: str, url: str, *, env: dict[str, str] | None = None, port: int | None = None
) -> AsyncIterator[Service]:
    """`app` (an import path) served by uvicorn as deployed, on `port` (default: a free one),
    until the block ends; its RSS is sampled all along."""
    port = port or free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        "--forwarded-allow-ips",
        (env or {}).get("TRUSTED_PROXIES", ""),
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": url,
            "JWT_SECRET": JWT_SECRET,
            "APP_ENV": "development",
            "LOG_LEVEL": "WARNING",
            "DB_POOL_SIZE": "20",
            **(env or {}),
        },
        stdout=subprocess.DEVNULL,
    )
    service = Service(name, f"http://127.0.0.1:{port}", psutil.Process(process.pid))

    async def watch() -> None:
        while True:
            service.sample()
            await asyncio.sleep(RSS_SAMPLE_SECONDS)

    watcher = asyncio.create_task(watch())
    try:
        await wait_ready(service)
        yield service
    finally:
        watcher.cancel()
        service.sample()
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


async def wait_ready(service: Service, path: str = "/ready") -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        while time.monotonic() < deadline:
            with suppress(httpx.TransportError):
                if (await client.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{service.name} did not become ready")


@asynccontextmanager
async def client_for(
    service: Service, *, concurrency: int, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=service.base_url, limits=limits, timeout=120, headers=headers
    ) as client:
        yield client


def get(path: Callable[[random.Random], str]) -> Send:
    """A `Send` for GET requests to a path drawn per request."""

    async def send(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        return await client.get(path(rng))

    return send


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    extra: dict[str, str] = field(default_factory=dict)
    peak_rss_mib: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    @property
    def p50(self) -> float:
        return self.percentile(0.5)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)


async def measure(
    client: httpx.AsyncClient,
    name: str,
    send: Send,
    *,
    concurrency: int,
    requests: int,
    seconds: float,
    warmup: int = 50,
    expected: Collection[int] = (200,),
    service: Service | None = None,
) -> Result:
    """`send` from `concurrency` workers until `requests` were issued or `seconds` passed,
    after `warmup` requests that fill the pools and caches; any unexpected status fails.
    With `service`, the result carries its peak RSS so far."""
    rng = random.Random(7)

    async def checked(sent_by: Send) -> httpx.Response:
        response = await sent_by(client, rng)
        if response.status_code not in expected:
            raise RuntimeError(
                f"{name}: {response.request.method} {response.request.url.path} "
                f"-> {response.status_code} {response.text[:300]}"
            )
        return response

    for _ in range(warmup):
        await checked(send)
    latencies: list[float] = []
    issued = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal issued
        while issued < requests and time.perf_counter() < deadline:
            issued += 1
            sent = time.perf_counter()
            await checked(send)
            latencies.append((time.perf_counter() - sent) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result = Result(name, len(latencies), time.perf_counter() - started, latencies)
    if service is not None:
        service.sample()
        result.peak_rss_mib = service.peak_rss_mib
    return result


async def time_calls(
    name: str, call: Callable[[], Awaitable[object]], *, repeat: int, warmup: int = 1
) -> Result:
    """Sequential timings of `call` (one at a time: latency of one report, not throughput)."""
    for _ in range(warmup):
        await call()
    latencies = []
    started = time.perf_counter()
    for _ in range(repeat):
        sent = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - sent) * 1000)
    return Result(name, repeat, time.perf_counter() - started, latencies)


Ratio = Literal["throughput", "latency", "memory"]
RATIO_HEADERS: dict[Ratio, str] = {
    "throughput": "req/s vs baseline",
    "latency": "p50 vs baseline",
    "memory": "RSS vs baseline",
}


def _ratio(result: Result, baseline: Result, ratio: Ratio) -> float:
    if ratio == "throughput":
        return result.rps / baseline.rps
    if ratio == "latency":
        return result.p50 / baseline.p50
    if result.peak_rss_mib is None or baseline.peak_rss_mib is None:
        raise ValueError("a memory ratio needs the peak RSS of both")
    return result.peak_rss_mib / baseline.peak_rss_mib


def table(results: list[Result], *, baseline: Result, ratio: Ratio) -> str:
    """A markdown table, with each row's ratio to `baseline`: req/s for `throughput` (higher
    is better), p50 for `latency` and peak RSS for `memory` (lower is better)."""
    extras = list(dict.fromkeys(key for result in results for key in result.extra))
    lines = [
        f"| scenario | requests | req/s | p50 ms | p99 ms | peak RSS MiB | "
        f"{RATIO_HEADERS[ratio]} |" + "".join(f" {key} |" for key in extras),
        "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(extras),
    ]
    for result in results:
        rss = "" if result.peak_rss_mib is None else f"{result.peak_rss_mib:.0f}"
        lines.append(
            f"| {result.name} | {result.requests} | {result.rps:.0f} | {result.p50:.1f} | "
            f"{result.p99:.1f} | {rss} | {_ratio(result, baseline, ratio):.2f}x |"
            + "".join(f" {result.extra.get(key, '')} |" for key in extras)
        )
    return "\n".join(lines)


def print_table(
    title: str, results: list[Result], *, baseline: Result, ratio: Ratio, notes: str = ""
) -> None:
    print(f"{title} ({os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d}, httpx client)")
    print(table(results, baseline=baseline, ratio=ratio))
    if notes:
        print(notes)
    print()
