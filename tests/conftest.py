"""Test databases and clients.

Every test that asks for `backend` runs once on SQLite and, when `TEST_MYSQL_URL` names a
MySQL-family server, once more there. Each run builds its schema with `alembic upgrade head`
in a database of its own and drops it afterwards.

- `isolated_database`: sessions joined to one outer transaction that is rolled back after the
  test (`join_transaction_mode="create_savepoint"`), so tests never see each other's rows.
- `committed_database`: real commits on real connections, for concurrency tests; every table
  is emptied after the test.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

import common.models  # noqa: F401
from common.config import Settings
from common.db import Base, Database, build_engine, build_session_factory
from common.migrations import alembic_config
from common.models.identity import Role
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.factories import bearer, make_account

MYSQL_SERVER_URL = os.environ.get("TEST_MYSQL_URL", "").strip()
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_sessionstart(session: pytest.Session) -> None:
    if IN_CI and not MYSQL_SERVER_URL:
        raise pytest.UsageError("CI=true needs TEST_MYSQL_URL: the MySQL tests may not be skipped")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_name" in metafunc.fixturenames:
        names = ["sqlite", "mysql"] if MYSQL_SERVER_URL else ["sqlite"]
        if metafunc.definition.get_closest_marker("mysql_only"):
            names = [name for name in names if name == "mysql"]
            if not names:
                # Nothing to run these on: make that visible instead of passing silently.
                names = ["mysql"]
        metafunc.parametrize("backend_name", names, scope="session")


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "app_env": "test",
        "database_url": database_url,
        "log_level": "WARNING",
        "db_pool_size": 20,
        "db_max_overflow": 80,
        "db_connect_timeout": 3,
        # Cheap Argon2 so hundreds of logins stay fast; production keeps the RFC 9106 profile.
        "password_hash_time_cost": 1,
        "password_hash_memory_cost_kib": 8,
        "password_hash_parallelism": 1,
        # Tests that want the expiry sweeper turn it on; elsewhere it would share the
        # single connection of `isolated_database` with the test.
        "sweep_interval_seconds": 0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Backend:
    name: str
    url: str
    settings: Settings


async def create_mysql_database(server_url: str, name: str) -> str:
    server = make_url(server_url)
    engine = build_engine(server.set(database=None), make_settings(server_url))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            )
    except Exception as error:
        raise RuntimeError(f"TEST_MYSQL_URL is set but the server is unusable: {error}") from error
    finally:
        await engine.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


async def drop_mysql_database(server_url: str, name: str) -> None:
    server = make_url(server_url)
    engine = build_engine(server.set(database=None), make_settings(server_url))
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        await engine.dispose()


async def run_cli(database_url: str, *arguments: str) -> tuple[int, str, str]:
    """`python -m common.ops ...` as an operator runs it: a real process, configured only by
    its environment. Returns (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "common.ops",
        *arguments,
        env={**os.environ, "DATABASE_URL": database_url, "APP_ENV": "test"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def migrate(url: str, revision: str = "head") -> None:
    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, _quiet_config(url), revision)


async def downgrade(url: str, revision: str = "base") -> None:
    await asyncio.to_thread(command.downgrade, _quiet_config(url), revision)


def _quiet_config(url: str) -> object:
    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture(scope="session")
async def fresh_database_url(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Callable[[str], object]]:
    """A factory of empty databases (`await fresh(backend_name)`), dropped at session end."""
    created: list[str] = []

    async def fresh(backend_name: str) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        if backend_name == "sqlite":
            path: Path = tmp_path_factory.mktemp("db") / f"{name}.db"
            return f"sqlite+aiosqlite:///{path}"
        if not MYSQL_SERVER_URL:
            raise RuntimeError("this test needs TEST_MYSQL_URL (a MySQL-family server)")
        created.append(name)
        return await create_mysql_database(MYSQL_SERVER_URL, name)

    yield fresh
    for name in created:
        await drop_mysql_database(MYSQL_SERVER_URL, name)


@pytest.fixture(scope="session")
async def backend(backend_name: str, fresh_database_url: Callable[[str], object]) -> Backend:
    url = await fresh_database_url(backend_name)  # type: ignore[misc]
    await migrate(url)
    return Backend(name=backend_name, url=url, settings=make_settings(url))


@pytest.fixture(scope="session")
async def database(backend: Backend) -> AsyncIterator[Database]:
    db = Database.from_settings(backend.settings)
    yield db
    await db.dispose()


@pytest.fixture
async def isolated_database(database: Database) -> AsyncIterator[Database]:
    async with database.engine.connect() as connection:
        outer = await connection.begin()
        factory = build_session_factory(connection, join_transaction_mode="create_savepoint")
        yield Database(
            engine=database.engine,
            session_factory=factory,
            read_session_factory=factory,
            retry_attempts=database.retry_attempts,
        )
        await outer.rollback()


@pytest.fixture
async def committed_database(database: Database) -> AsyncIterator[Database]:
    yield database
    async with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            # Rows that point at rows of their own table (a refund at its sale) go first:
            # both backends check such keys row by row within one DELETE.
            for key in table.foreign_keys:
                if key.column.table is table:
                    await connection.execute(delete(table).where(key.parent.is_not(None)))
            await connection.execute(delete(table))


@pytest.fixture
def settings(backend: Backend) -> Settings:
    return backend.settings


async def serve(app: FastAPI, base_url: str = "http://test") -> AsyncIterator[AsyncClient]:
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url=base_url) as client,
    ):
        yield client


async def serve_as_admin(
    app: FastAPI, settings: Settings, database: Database, base_url: str = "http://test"
) -> AsyncIterator[AsyncClient]:
    """`serve(app)` with a fresh admin account's bearer token on every request."""
    admin = await make_account(database, settings, role=Role.admin)
    async for client in serve(app, base_url):
        client.headers.update(bearer(admin, settings))
        yield client


@pytest.fixture
async def products_client(
    settings: Settings, isolated_database: Database
) -> AsyncIterator[AsyncClient]:
    app = build_products_app(settings=settings, database=isolated_database)
    async for client in serve(app, "http://products.test"):
        yield client


@pytest.fixture
async def committed_products_client(
    settings: Settings, committed_database: Database
) -> AsyncIterator[AsyncClient]:
    """The products service on real commits and real connections (concurrency tests)."""
    app = build_products_app(settings=settings, database=committed_database)
    async for client in serve(app, "http://products.test"):
        yield client


@pytest.fixture
async def sales_client(
    settings: Settings, isolated_database: Database
) -> AsyncIterator[AsyncClient]:
    app = build_sales_app(settings=settings, database=isolated_database)
    async for client in serve(app, "http://sales.test"):
        yield client


@pytest.fixture
async def committed_sales_client(
    settings: Settings, committed_database: Database
) -> AsyncIterator[AsyncClient]:
    """The sales service on real commits, for concurrency tests."""
    app = build_sales_app(settings=settings, database=committed_database)
    async for client in serve(app, "http://sales.test"):
        yield client


@pytest.fixture
async def session(isolated_database: Database) -> AsyncIterator[AsyncSession]:
    """A session inside the test's rolled-back transaction (the one `products_client` uses)."""
    async with isolated_database.session_factory() as db_session:
        yield db_session
