"""Products tests act as a signed-in admin, as the manager using the dashboard would.

Who may call what (anonymous, customer, admin) is the auth matrix's job
(`tests/sales/test_auth_matrix.py`), which walks every route of both services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from httpx import AsyncClient

from common.config import Settings
from common.db import Database
from products_microservice.main import build_app as build_products_app
from tests.conftest import serve_as_admin


async def _admin_client(settings: Settings, database: Database) -> AsyncIterator[AsyncClient]:
    app = build_products_app(settings=settings, database=database)
    async for client in serve_as_admin(app, settings, database, "http://products.test"):
        yield client


@pytest.fixture
async def products_client(
    settings: Settings, isolated_database: Database
) -> AsyncIterator[AsyncClient]:
    async for client in _admin_client(settings, isolated_database):
        yield client


@pytest.fixture
async def committed_products_client(
    settings: Settings, committed_database: Database
) -> AsyncIterator[AsyncClient]:
    async for client in _admin_client(settings, committed_database):
        yield client
