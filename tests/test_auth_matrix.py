"""Every operation of both OpenAPI specs, called anonymously, as a customer, as another
customer and as an admin, must answer exactly as `RULES` says.

The test walks the specs, so a new route without a rule (or with a rule its guard does not
enforce) fails here. Catalog routes join the table when the catalog branch is merged.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from common.config import Settings
from common.db import Database
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.access import (
    CALLERS,
    RULES,
    expected_status,
    make_context,
    route_url,
)
from tests.fixtures.clients import serve

SERVICES = {"products": build_products_app, "sales": build_sales_app}


@pytest.mark.parametrize("service", list(SERVICES))
async def test_every_route_answers_as_the_rules_say(
    service: str, settings: Settings, isolated_database: Database
) -> None:
    app: FastAPI = SERVICES[service](settings=settings, database=isolated_database)
    mismatches: list[str] = []
    checked = 0
    async for client in serve(app):
        spec = (await client.get("/openapi.json")).json()
        for path, item in spec["paths"].items():
            for method in item:
                name = f"{method.upper()} {path}"
                rule = RULES.get(name)
                if rule is None:
                    mismatches.append(f"{name}: no rule in RULES (who may call it?)")
                    continue
                ctx = await make_context(isolated_database, settings)
                for caller in CALLERS:
                    if rule.fresh_per_caller and caller != CALLERS[0]:
                        ctx = await make_context(isolated_database, settings)
                    content, signed = rule.content(ctx, caller) if rule.content else (None, {})
                    response = await client.request(
                        method.upper(),
                        route_url(path, rule, ctx),
                        headers={**ctx.headers[caller], **signed},
                        content=content,
                        json=rule.json(ctx, caller) if rule.json else None,
                        data=rule.form(ctx, caller) if rule.form else None,
                        files=rule.files(ctx, caller) if rule.files else None,
                    )
                    checked += 1
                    expected = expected_status(rule, caller)
                    if response.status_code != expected:
                        mismatches.append(
                            f"{name} as {caller}: {response.status_code} != {expected} "
                            f"{response.text[:200]}"
                        )
                    elif expected == 401:
                        assert response.headers["www-authenticate"].startswith("Bearer")
                        assert response.json()["code"] == "unauthenticated"
                    elif expected == 403:
                        assert response.json()["code"] == "forbidden"
                    elif expected == 404:
                        assert response.json()["code"] == "order_not_found"
    assert mismatches == []
    assert checked >= 4 * 4  # the spec was really walked


@pytest.mark.parametrize("service", list(SERVICES))
@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/metrics"])
async def test_infrastructure_routes_are_public(
    service: str, path: str, settings: Settings, isolated_database: Database
) -> None:
    app = SERVICES[service](settings=settings, database=isolated_database)
    async for client in serve(app):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.text


async def test_swagger_authorize_uses_the_password_flow(sales_client: Any) -> None:
    spec = (await sales_client.get("/openapi.json")).json()
    scheme = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "auth/token"
    secured = spec["paths"]["/api/v1/customers"]["get"]["security"]
    assert secured == [{"OAuth2PasswordBearer": []}]
