"""create_app's plumbing: problem+json, request ids, logging, readiness, metrics."""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from httpx import AsyncClient
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.routing import BaseRoute

from common.config import Settings
from common.db import Database
from common.errors import Conflict
from common.web import SessionDep, create_app
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.clients import serve
from tests.fixtures.databases import make_settings

PROBLEM = "application/problem+json"

probe = APIRouter(prefix="/probe", tags=["probe"])


class Line(BaseModel):
    product_id: int = Field(ge=1)
    quantity: int = Field(ge=1)


class Order(BaseModel):
    items: list[Line] = Field(min_length=1)


class OutOfStock(Conflict):
    code = "insufficient_stock"
    title = "Not enough stock"


@probe.post("/orders")
async def take_order(order: Order) -> dict[str, int]:
    return {"lines": len(order.items)}


@probe.get("/conflict")
async def conflict() -> None:
    raise OutOfStock("Only 3 left.", available=3)


@probe.get("/crash")
async def crash() -> None:
    raise RuntimeError("secret internals: password=hunter2 SELECT * FROM user_account")


@probe.get("/query")
async def query(session: SessionDep) -> dict[str, int]:
    value = await session.scalar(text("SELECT 41 + 1"))
    return {"value": int(value or 0)}


@pytest.fixture
async def client(settings: Settings, isolated_database: Database) -> AsyncIterator[AsyncClient]:
    app = create_app(
        title="Probe",
        description="test app",
        routers=[probe],
        settings=settings,
        database=isolated_database,
    )
    async for c in serve(app):
        yield c


@pytest.fixture
async def unreachable_client() -> AsyncIterator[AsyncClient]:
    # Port 1 on loopback refuses connections: a database that is down.
    settings = make_settings("mysql+asyncmy://root@127.0.0.1:1/nothing", db_connect_timeout=1)
    database = Database.from_settings(settings)
    app = create_app(
        title="Probe",
        description="test app",
        routers=[probe],
        settings=settings,
        database=database,
    )
    async for c in serve(app):
        yield c
    await database.dispose()


async def test_unknown_route_is_404_problem(client: AsyncClient) -> None:
    response = await client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "not_found"
    assert body["status"] == 404
    assert body["instance"] == "/api/v1/nowhere"
    assert body["type"].endswith("not_found")


async def test_wrong_method_is_405_problem_with_allow(client: AsyncClient) -> None:
    response = await client.delete("/api/v1/probe/orders")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "method_not_allowed"
    assert "POST" in response.headers["allow"]


async def test_invalid_body_is_422_with_field_pointers(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/probe/orders", json={"items": [{"product_id": 1, "quantity": 0}]}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["errors"] == [
        {
            "in": "body",
            "pointer": "#/items/0/quantity",
            "detail": "Input should be greater than or equal to 1",
            "type": "greater_than_equal",
        }
    ]


async def test_malformed_json_is_422_not_500(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/probe/orders", content=b'{"items": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_domain_error_is_problem_with_its_code_and_members(client: AsyncClient) -> None:
    response = await client.get("/api/v1/probe/conflict")
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert (body["code"], body["detail"], body["available"]) == (
        "insufficient_stock",
        "Only 3 left.",
        3,
    )


async def test_unexpected_error_is_500_without_internals(client: AsyncClient) -> None:
    response = await client.get("/api/v1/probe/crash", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"] == "crash-1"
    body = response.json()
    assert body["code"] == "internal_error"
    assert body["request_id"] == "crash-1"
    for leak in ("hunter2", "SELECT", "Traceback", "RuntimeError"):
        assert leak not in response.text


async def test_request_id_is_echoed(client: AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "req-42.a"})
    assert response.headers["x-request-id"] == "req-42.a"


async def test_request_id_is_generated_when_absent_or_unsafe(client: AsyncClient) -> None:
    absent = await client.get("/health")
    unsafe = await client.get("/health", headers={"X-Request-ID": "x" * 500})
    generated = {absent.headers["x-request-id"], unsafe.headers["x-request-id"]}
    assert len(generated) == 2
    assert all(len(value) == 32 for value in generated)


async def test_log_lines_are_json_with_request_id(
    capsys: pytest.CaptureFixture[str], client: AsyncClient
) -> None:
    # capsys comes first so that the app's log handler is built on the captured stdout.
    logging.getLogger().setLevel("INFO")
    await client.get("/health", headers={"X-Request-ID": "log-me"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    access = [line for line in lines if line.get("logger") == "access"]
    assert access, lines
    assert access[-1]["request_id"] == "log-me"
    assert access[-1]["status"] == 200
    assert access[-1]["path"] == "/health"


async def test_session_dependency_runs_queries(client: AsyncClient) -> None:
    response = await client.get("/api/v1/probe/query")
    assert response.json() == {"value": 42}


async def test_ready_is_503_when_database_unreachable(unreachable_client: AsyncClient) -> None:
    response = await unreachable_client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "database_unavailable"
    assert "retry-after" in response.headers


async def test_query_is_503_when_database_unreachable(unreachable_client: AsyncClient) -> None:
    response = await unreachable_client.get("/api/v1/probe/query")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert "asyncmy" not in response.text
    assert "2003" not in response.text


async def test_health_does_not_touch_database(unreachable_client: AsyncClient) -> None:
    response = await unreachable_client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_cors_allows_configured_origin(
    settings: Settings, isolated_database: Database
) -> None:
    app = create_app(
        title="Probe",
        description="test app",
        settings=settings.model_copy(update={"cors_origins": ["https://admin.example"]}),
        database=isolated_database,
    )
    async for c in serve(app):
        response = await c.options(
            "/health",
            headers={"Origin": "https://admin.example", "Access-Control-Request-Method": "GET"},
        )
        assert response.headers["access-control-allow-origin"] == "https://admin.example"
        other = await c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_openapi_documents_problem_bodies(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    responses = spec["paths"]["/api/v1/probe/orders"]["post"]["responses"]
    assert responses["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert "503" in responses
    assert "HTTPValidationError" not in spec["components"]["schemas"]


# FastAPI runs a plain `def` dependency in its thread pool: a thread handoff on every request.
# Only the login form (a FastAPI class, on a path bound by password hashing) may.
THREADPOOL_ALLOWED = {"OAuth2PasswordRequestForm"}


def _runs_in_threadpool(call: object) -> bool:
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return False
    if inspect.isclass(call) or inspect.isfunction(call) or inspect.ismethod(call):
        return True
    return not inspect.iscoroutinefunction(type(call).__call__)  # a security scheme instance


def _dependency_calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependency_calls(sub)


def _route_dependency_calls(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, object]]:
    """Every dependency of every API route, with those its routers add when included."""
    for route in routes:
        router = getattr(route, "original_router", None)
        if router is not None:
            for depends in route.include_context.dependencies:  # type: ignore[attr-defined]
                dependant = get_dependant(path="", call=depends.dependency)
                for call in (depends.dependency, *_dependency_calls(dependant)):
                    yield router.prefix, call
            yield from _route_dependency_calls(router.routes)
        elif isinstance(route, APIRoute):
            for call in _dependency_calls(route.dependant):
                yield route.path, call


@pytest.mark.parametrize("build", [build_products_app, build_sales_app], ids=["products", "sales"])
def test_no_dependency_runs_in_the_threadpool(
    build: Callable[..., FastAPI], settings: Settings
) -> None:
    calls = list(_route_dependency_calls(build(settings=settings).routes))
    assert len(calls) > 20  # the walk reached the routers
    offenders = {
        f"{path}: {getattr(call, '__qualname__', call)}"
        for path, call in calls
        if _runs_in_threadpool(call) and getattr(call, "__name__", None) not in THREADPOOL_ALLOWED
    }
    assert not offenders
