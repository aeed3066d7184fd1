"""No public signing key (issue 13, point 7): a service started without `JWT_SECRET` refuses to
start and says why, and a token signed with the value the source used to ship is refused."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

import jwt
import pytest

from common.config import NO_SIGNING_KEY_MESSAGE
from common.db import Database, utcnow
from common.models.identity import Role
from tests.fixtures.clients import client_for
from tests.fixtures.databases import Backend
from tests.fixtures.factories import make_account
from tests.fixtures.processes import PRODUCTS_APP, SALES_APP, free_port

# What `common.config` shipped as its development secret before issue 13: public knowledge.
OLD_BUILT_IN_SECRET = "development-only-secret-change-me-0123456789"


@pytest.mark.parametrize("app", [PRODUCTS_APP, SALES_APP], ids=["products", "sales"])
@pytest.mark.parametrize("app_env", ["development", "production"])
async def test_a_service_started_without_jwt_secret_refuses(
    app: str, app_env: str, backend: Backend, tmp_path: object
) -> None:
    environment = {name: value for name, value in os.environ.items() if name != "JWT_SECRET"} | {
        "DATABASE_URL": backend.url,
        "APP_ENV": app_env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(free_port()),
        env=environment,
        cwd=str(tmp_path),  # no .env of the checkout's to read a secret from
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode != 0
    assert NO_SIGNING_KEY_MESSAGE in (out + err).decode()


async def test_a_token_signed_with_the_old_built_in_secret_is_refused(
    backend: Backend, isolated_database: Database
) -> None:
    settings = backend.settings
    admin = await make_account(isolated_database, settings, role=Role.admin)
    now = utcnow()
    forged = jwt.encode(
        {
            "sub": str(admin.id),
            "role": "admin",
            "type": "access",
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=10)).timestamp()),
            "jti": "forged",
        },
        OLD_BUILT_IN_SECRET,
        algorithm="HS256",
    )
    async for client in client_for("sales", settings, isolated_database, as_=None):
        response = await client.get(
            "/api/v1/customers", headers={"Authorization": f"Bearer {forged}"}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"
