"""Hostile input against every write route of both services: each answered with a 4xx the
route documents, as problem+json, and the database unchanged (or, for text that is valid,
stored verbatim).

Routes and their valid bodies come from the auth matrix (`RULES`), which walks the specs, so a
new route is covered here as soon as it has a rule there.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy import func, select

from common.config import Settings
from common.db import Base, Database, utcnow
from common.identity.tokens import create_access_token
from common.schemas.problem import PROBLEM_MEDIA_TYPE
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.access import RULES, Caller, Context, make_context, route_url
from tests.fixtures.clients import serve

SERVICES: dict[str, Callable[..., FastAPI]] = {
    "products": build_products_app,
    "sales": build_sales_app,
}
# Free text: anything printable goes, so an emoji must come back as it was sent.
FREE_TEXT = {
    "name",
    "description",
    "note",
    "notes",
    "reason",
    "shipping_address",
    "full_name",
    "title",
    "body",
    "reference",
}
SQL_FRAGMENTS = ["Robert'); DROP TABLE category;--", "' OR '1'='1", "1; DELETE FROM product"]
EMOJI = "Gift 🎁 for 👩‍💻 ✨"


@dataclass
class Route:
    service: str
    method: str
    path: str
    spec_path: str
    documented: set[int]
    body: dict[str, Any]
    caller: Caller

    @property
    def name(self) -> str:
        return f"{self.method} {self.spec_path}"


@dataclass
class Target:
    clients: dict[str, AsyncClient]
    specs: dict[str, dict[str, Any]]
    ctx: Context
    database: Database
    settings: Settings

    def json_routes(self) -> Iterator[Route]:
        """Every operation with a JSON body, with a valid body for it (as the admin)."""
        for service, spec in self.specs.items():
            for spec_path, item in spec["paths"].items():
                for method, operation in item.items():
                    content = operation.get("requestBody", {}).get("content", {})
                    rule = RULES[f"{method.upper()} {spec_path}"]
                    if "application/json" not in content or rule.json is None:
                        continue
                    # Reviews are written by customers; every other write is the admin's.
                    caller: Caller = "customer" if rule.access == "customer" else "admin"
                    yield Route(
                        service=service,
                        method=method.upper(),
                        path=route_url(spec_path, rule, self.ctx),
                        spec_path=spec_path,
                        documented={int(s) for s in operation["responses"] if s.isdigit()},
                        body=rule.json(self.ctx, caller),
                        caller=caller,
                    )

    def list_routes(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for service, spec in self.specs.items():
            for spec_path, item in spec["paths"].items():
                operation = item.get("get")
                if operation is None:
                    continue
                names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
                if names & {"limit", "cursor"}:
                    rule = RULES[f"GET {spec_path}"]
                    yield service, route_url(spec_path, rule, self.ctx), operation

    async def send(self, route: Route, **request: Any) -> Response:
        headers = {**self.ctx.headers[route.caller], **request.pop("headers", {})}
        client = self.clients[route.service]
        return await client.request(route.method, route.path, headers=headers, **request)


@pytest.fixture
async def target(settings: Settings, isolated_database: Database) -> AsyncIterator[Target]:
    ctx = await make_context(isolated_database, settings)
    clients: dict[str, AsyncClient] = {}
    specs: dict[str, dict[str, Any]] = {}
    servers = {
        name: serve(build(settings=settings, database=isolated_database))
        for name, build in SERVICES.items()
    }
    for name, server in servers.items():
        clients[name] = await anext(server)
        specs[name] = (await clients[name].get("/openapi.json")).json()
    yield Target(clients, specs, ctx, isolated_database, settings)
    for server in servers.values():
        await server.aclose()


async def row_counts(database: Database) -> dict[str, int]:
    async with database.session_factory() as session:
        return {
            table.name: await session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def refused(response: Response, route: Route) -> str | None:
    """Why `response` is not a documented 4xx problem, or None when it is."""
    if not 400 <= response.status_code < 500:
        return f"{route.name}: {response.status_code} {response.text[:200]}"
    if response.status_code not in route.documented:
        return f"{route.name}: {response.status_code} is not documented"
    if response.headers["content-type"] != PROBLEM_MEDIA_TYPE:
        return f"{route.name}: {response.headers['content-type']} is not problem+json"
    if response.json()["status"] != response.status_code:
        return f"{route.name}: the problem's status differs from the response's"
    return None


async def assert_refused_and_unchanged(
    target: Target, route_requests: list[tuple[Route, dict[str, Any]]]
) -> None:
    before = await row_counts(target.database)
    problems = []
    for route, request in route_requests:
        problem = refused(await target.send(route, **request), route)
        if problem:
            problems.append(problem)
    assert problems == []
    assert await row_counts(target.database) == before
    assert len(route_requests) >= 10  # the specs were really walked


# Secrets are hashed or looked up, never stored as text: a NUL there is just a wrong secret.
SECRETS = {"password", "refresh_token", "current_password", "new_password"}


def string_fields(body: dict[str, Any]) -> list[str]:
    return [name for name, value in body.items() if isinstance(value, str) and name not in SECRETS]


def number_fields(body: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths to every number in `body`, nested ones included."""
    items = body.items() if isinstance(body, dict) else enumerate(body)
    for key, value in items:
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            yield (*prefix, key)
        elif isinstance(value, dict | list):
            yield from number_fields(value, (*prefix, key))


def replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(body))
    holder = copy
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return copy


async def test_oversize_bodies_are_413(target: Target) -> None:
    limit = target.settings.max_body_bytes
    padding = "x" * limit
    await assert_refused_and_unchanged(
        target,
        [(route, {"json": {**route.body, "padding": padding}}) for route in target.json_routes()],
    )


async def test_an_oversize_body_without_a_length_is_413_too(target: Target) -> None:
    (route, *_) = target.json_routes()
    chunk = b"[" * 64 * 1024

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(target.settings.max_body_bytes // len(chunk) + 2):
            yield chunk

    response = await target.send(route, content=chunked())
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_deeply_nested_json_is_a_4xx_not_a_recursion_error(target: Target) -> None:
    depth = 10_000
    deep = "[" * depth + "]" * depth
    await assert_refused_and_unchanged(
        target,
        [
            (route, {"content": f'{{"{name}": {deep}}}', "headers": _json_type(target)})
            for route in target.json_routes()
            for name in list(route.body)[:1]
        ],
    )


async def test_nul_bytes_in_string_fields_are_422(target: Target) -> None:
    requests = [
        (route, {"json": {**route.body, name: f"{route.body[name]}\x00"}})
        for route in target.json_routes()
        for name in string_fields(route.body)
    ]
    await assert_refused_and_unchanged(target, requests)


async def test_emoji_in_free_text_round_trips(target: Target) -> None:
    echoed = 0
    for route in target.json_routes():
        for name in set(string_fields(route.body)) & FREE_TEXT:
            text = f"{EMOJI} {uuid.uuid4().hex[:6]}"
            response = await target.send(route, json={**route.body, name: text})
            assert response.status_code < 300, f"{route.name} {name}: {response.text[:200]}"
            if text in response.text:
                assert text in json.dumps(response.json(), ensure_ascii=False)
                echoed += 1
    assert echoed >= 5  # written, read back from the database, and answered unchanged


@pytest.mark.parametrize("number", [2**31, 2**63, 10**40, -(2**63) - 1])
async def test_numbers_beyond_the_columns_are_422(target: Target, number: int) -> None:
    await assert_refused_and_unchanged(
        target,
        [
            (route, {"json": replaced(route.body, path, number)})
            for route in target.json_routes()
            for path in number_fields(route.body)
        ],
    )


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", '"1e400"', '"NaN"'])
async def test_non_finite_numbers_are_422(target: Target, literal: str) -> None:
    marker = "__number__"
    requests = []
    for route in target.json_routes():
        for path in number_fields(route.body):
            body = json.dumps(replaced(route.body, path, marker)).replace(f'"{marker}"', literal)
            requests.append((route, {"content": body, "headers": _json_type(target)}))
    requests += [
        (route, {"json": {**route.body, name: literal.strip('"')}})
        for route in target.json_routes()
        for name in ("amount", "price", "unit_price")
        if name in route.body
    ]
    await assert_refused_and_unchanged(target, requests)


@pytest.mark.parametrize("fragment", SQL_FRAGMENTS)
async def test_sql_fragments_are_stored_verbatim(target: Target, fragment: str) -> None:
    before = await row_counts(target.database)
    (route,) = [r for r in target.json_routes() if r.name == "POST /api/v1/categories"]
    created = await target.send(route, json={"name": f"{fragment} {uuid.uuid4().hex[:6]}"})
    assert created.status_code == 201
    stored = await target.clients["products"].get(f"/api/v1/categories/{created.json()['id']}")
    assert stored.json()["name"].startswith(fragment)
    search = await target.clients["products"].get("/api/v1/products", params={"q": fragment})
    assert search.status_code == 200
    after = await row_counts(target.database)
    assert after == {**before, "category": before["category"] + 1}


@pytest.mark.parametrize(
    "request_options",
    [
        {"content": "name=x", "headers": {"Content-Type": "text/plain"}},
        {"data": {"name": "x"}},
        {"content": b"\xff\xfe{not json", "headers": {"Content-Type": "application/json"}},
        {"content": "[1, 2]", "headers": {"Content-Type": "application/json"}},
    ],
    ids=["text-plain", "form", "malformed", "array"],
)
async def test_wrong_content_types_and_shapes_are_4xx(
    target: Target, request_options: dict[str, Any]
) -> None:
    await assert_refused_and_unchanged(
        target, [(route, request_options) for route in target.json_routes()]
    )


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 10**9},
        {"limit": 0},
        {"limit": 2**64},
        {"offset": 2**63},
        {"offset": -1},
        {"cursor": "x" * 5000},
        {"cursor": base64.urlsafe_b64encode(b"99999999999999999999999").decode()},
        {"cursor": "\x00"},
    ],
    ids=str,
)
async def test_huge_pages_offsets_and_cursors_are_422(
    target: Target, query: dict[str, Any]
) -> None:
    problems = []
    walked = 0
    for service, path, operation in target.list_routes():
        names = {p["name"] for p in operation["parameters"]}
        if not set(query) <= names:
            continue
        walked += 1
        client = target.clients[service]
        response = await client.get(path, params=query, headers=target.ctx.headers["admin"])
        if response.status_code != 422 or response.headers["content-type"] != PROBLEM_MEDIA_TYPE:
            problems.append(f"{path} {query}: {response.status_code} {response.text[:200]}")
    assert problems == []
    assert walked >= 2


def _json_type(target: Target) -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _tokens(target: Target) -> dict[str, str]:
    settings, admin = target.settings, target.ctx.admin
    secret = settings.jwt_secret.get_secret_value()
    valid = create_access_token(user_id=admin.id, role="admin", settings=settings).token
    claims = jwt.decode(valid, secret, algorithms=["HS256"])
    header, payload, _ = valid.split(".")
    unsigned_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=")
    return {
        "garbage": "not-a-token",
        "empty": "",
        "alg-none": f"{unsigned_header.decode()}.{payload}.",
        "expired": create_access_token(
            user_id=admin.id, role="admin", settings=settings, now=utcnow() - timedelta(days=2)
        ).token,
        "wrong-signature": jwt.encode(claims, "another-secret-" + "x" * 32, algorithm="HS256"),
        "refresh-as-access": jwt.encode({**claims, "type": "refresh"}, secret, algorithm="HS256"),
        "unknown-user": jwt.encode({**claims, "sub": str(2**31 - 1)}, secret, algorithm="HS256"),
        "sub-not-a-number": jwt.encode({**claims, "sub": "1 OR 1=1"}, secret, algorithm="HS256"),
        "huge": "a" * 100_000,
        "tampered-payload": f"{header}.{payload[:-2]}AA.{valid.split('.')[2]}",
    }


async def test_malformed_tokens_are_401(target: Target) -> None:
    requests = [
        (route, {"json": route.body, "headers": {"Authorization": f"Bearer {token}"}})
        for route in target.json_routes()
        if route.spec_path not in ("/auth/refresh", "/auth/logout", "/api/v1/auth/register")
        for token in _tokens(target).values()
    ]
    before = await row_counts(target.database)
    problems = []
    for route, request in requests:
        response = await target.clients[route.service].request(route.method, route.path, **request)
        if response.status_code != 401 or response.json()["status"] != 401:
            problems.append(f"{route.name}: {response.status_code} {response.text[:160]}")
        elif not response.headers["www-authenticate"].startswith("Bearer"):
            problems.append(f"{route.name}: no WWW-Authenticate challenge")
    assert problems == []
    assert await row_counts(target.database) == before


async def test_the_catalog_import_has_a_limit_of_its_own(target: Target) -> None:
    oversize = target.settings.max_body_bytes + 1024
    assert oversize < target.settings.import_max_bytes
    csv = f"sku,name,category,price,description\nBIG-1,Big,{target.ctx.category_name},1.00,"
    response = await target.clients["products"].post(
        "/api/v1/products/import",
        params={"dry_run": "true"},
        files={"file": ("catalog.csv", (csv + "x" * oversize).encode(), "text/csv")},
        headers=target.ctx.headers["admin"],
    )
    # Refused for its content (a cell past the CSV field limit), not for its size.
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_file"
