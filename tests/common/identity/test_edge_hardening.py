"""What the services say at their edge (issue 13, the small ones): `CORS_ORIGINS=*` refused at
start-up (credentials are allowed), the auth routes' security headers, and X-Forwarded-For
believed only from `TRUSTED_PROXIES` (empty by default), in the app and in how uvicorn is
started: issue 13's attack 3 sent its six guesses from six forwarded addresses."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import pytest
from httpx import AsyncClient
from pydantic import ValidationError

from common.config import Settings
from common.db import Database
from common.migrations import REPO_ROOT
from tests.fixtures.clients import client_for
from tests.fixtures.databases import TEST_JWT_SECRET, Backend
from tests.fixtures.factories import PASSWORD, make_account
from tests.fixtures.processes import SALES_APP, ServiceProcess

AUTH_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "frame-ancestors 'none'",
    "cache-control": "no-store",
}


def test_cors_wildcard_is_refused_with_credentials() -> None:
    with pytest.raises(ValidationError, match="CORS_ORIGINS"):
        Settings(_env_file=None, jwt_secret=TEST_JWT_SECRET, cors_origins="*")  # type: ignore[call-arg]
    listed = Settings(
        _env_file=None,  # type: ignore[call-arg]
        jwt_secret=TEST_JWT_SECRET,
        cors_origins="https://admin.example.com, https://ops.example.com",
    )
    assert listed.cors_origins == ["https://admin.example.com", "https://ops.example.com"]


async def test_a_service_started_with_cors_wildcard_exits_saying_why(backend: Backend) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", SALES_APP, "--host", "127.0.0.1", "--port", "0",
        env={**os.environ, "DATABASE_URL": backend.url, "JWT_SECRET": TEST_JWT_SECRET,
             "CORS_ORIGINS": "*"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode != 0
    assert "CORS_ORIGINS=* cannot be combined with credentials" in err.decode()


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        jwt_secret=TEST_JWT_SECRET,
        trusted_proxies="10.0.0.5, 192.168.0.0/16",
    )
    assert settings.trusted_proxies == ["10.0.0.5", "192.168.0.0/16"]
    for bad in ("*", "proxy.internal", "10.0.0.0/33"):
        with pytest.raises(ValidationError, match="TRUSTED_PROXIES"):
            Settings(_env_file=None, jwt_secret=TEST_JWT_SECRET, trusted_proxies=bad)  # type: ignore[call-arg]


async def test_auth_routes_send_nosniff_no_frames_and_no_store(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    answers = [
        await sales_client.post(
            "/auth/token", data={"username": account.email, "password": PASSWORD}
        ),
        await sales_client.post(
            "/auth/token", data={"username": account.email, "password": "nope"}
        ),
        await sales_client.get("/auth/me"),
        await sales_client.post("/api/v1/auth/register", json={}),
    ]
    assert [answer.status_code for answer in answers] == [200, 401, 401, 422]
    for answer in answers:
        assert {name: answer.headers.get(name) for name in AUTH_HEADERS} == AUTH_HEADERS


async def wrong_then_right(client: AsyncClient, email: str, limit: int) -> list[int]:
    """`limit` + 1 wrong passwords from as many forwarded addresses, then the right one from
    yet another: the statuses."""
    statuses = []
    for n in range(limit + 2):
        password = PASSWORD if n == limit + 1 else "not the password"
        response = await client.post(
            "/auth/token",
            data={"username": email, "password": password},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
        )
        statuses.append(response.status_code)
    return statuses


async def test_forwarded_addresses_are_ignored_without_trusted_proxies(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    account = await make_account(isolated_database, settings)
    limit = settings.login_max_failures_per_pair
    # One address (the peer's), whatever the header says: throttled after `limit`.
    assert await wrong_then_right(sales_client, account.email, limit) == [401] * limit + [429] * 2


async def test_forwarded_addresses_are_believed_from_a_trusted_proxy(
    isolated_database: Database, settings: Settings
) -> None:
    behind_proxy = settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    account = await make_account(isolated_database, behind_proxy)
    limit = behind_proxy.login_max_failures_per_pair
    async for client in client_for("sales", behind_proxy, isolated_database, as_=None):
        # Every guess from its own client address: none is throttled, the owner signs in.
        assert await wrong_then_right(client, account.email, limit) == [401] * (limit + 1) + [200]


@pytest.fixture
async def sales_process(backend: Backend) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess(backend, SALES_APP)
    await process.start()
    yield process
    await process.kill()


async def test_uvicorn_as_started_ignores_forwarded_addresses_from_loopback(
    settings: Settings, committed_database: Database, sales_process: ServiceProcess
) -> None:
    """uvicorn on its own believes X-Forwarded-For from 127.0.0.1; started as deployed
    (`--forwarded-allow-ips` from TRUSTED_PROXIES, empty), it does not."""
    account = await make_account(committed_database, settings)
    limit = settings.login_max_failures_per_pair
    async with AsyncClient(base_url=sales_process.url) as client:
        assert await wrong_then_right(client, account.email, limit) == [401] * limit + [429] * 2


def test_every_start_command_passes_trusted_proxies_to_uvicorn() -> None:
    sources = {
        name: (REPO_ROOT / name).read_text()
        for name in ("Dockerfile", "docker-compose.yml", "docker-manager.sh")
    }
    for name, text in sources.items():
        starts = [line for line in text.splitlines() if "main:app" in line and "uvicorn" in line]
        assert starts, name
        joined = text.replace("\\\n", " ")
        assert joined.count("--forwarded-allow-ips") >= len(starts), name
        assert "TRUSTED_PROXIES" in text, name
