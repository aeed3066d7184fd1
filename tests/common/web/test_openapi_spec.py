"""Both services' OpenAPI specs say what the servers do, in a shape a generated client can use.

Properties checked over every operation of both specs: errors documented under
`application/problem+json` only, with the Problem schema and an example that matches it;
operationIds that are the route functions' names, unique, never FastAPI's default
`name_path_method`; 401 wherever a bearer token is read (optional sign-in included) and 403
wherever a role is required, both worked out from the routes' dependencies, not from the spec
itself; a relative `tokenUrl`. The main operations (a client's first journey: sign in, the
catalog, stock, sales, the revenue report, orders) also carry a summary, a description and an
example on every request and response body, and every example matches its own schema.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.security.base import SecurityBase
from fastapi.utils import generate_unique_id

from common.identity import access
from common.schemas.problem import PROBLEM_MEDIA_TYPE
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.databases import make_settings

SERVICES: dict[str, Callable[..., FastAPI]] = {
    "products": build_products_app,
    "sales": build_sales_app,
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# What a client integrating with the shop calls first, by operationId.
MAIN_OPERATIONS = {
    "products": {
        "issue_token",
        "create_category",
        "list_products",
        "get_product",
        "create_product",
        "update_product",
        "adjust_stock",
    },
    "sales": {
        "issue_token",
        "register",
        "create_sale",
        "list_sales",
        "revenue",
        "create_order",
        "read_order",
        "pay_order",
    },
}
# Guards that refuse a signed-in caller for their role (or for acting on someone else).
ROLE_GUARDS = {access.get_admin_user, access.get_self_or_admin}


@pytest.fixture(scope="module", params=list(SERVICES))
def app(request: pytest.FixtureRequest) -> FastAPI:
    built: FastAPI = SERVICES[request.param](settings=make_settings("sqlite+aiosqlite://"))
    built.state.name = request.param
    return built


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def routes(app: FastAPI) -> Iterator[RouteContext]:
    """The API routes as served (included routers' prefixes and dependencies applied)."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            yield route


def operation_of(spec: dict[str, Any], route: RouteContext) -> dict[str, Any]:
    (method,) = route.methods or ()
    operation: dict[str, Any] = spec["paths"][route.path_format][method.lower()]
    return operation


def dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from dependencies(dependency)


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema validator for `schema`, whose `#/components/...` references resolve."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]})


def test_every_error_is_documented_as_a_problem_and_only_as_one(app: FastAPI) -> None:
    spec = app.openapi()
    problem = validator(spec, PROBLEM_REF)
    wrong: list[str] = []
    errors = 0
    for name, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status[0] not in "45":
                continue
            errors += 1
            content = response.get("content", {})
            if list(content) != [PROBLEM_MEDIA_TYPE]:
                wrong.append(f"{name} {status}: documented as {sorted(content)}")
                continue
            media = content[PROBLEM_MEDIA_TYPE]
            if media.get("schema") != PROBLEM_REF:
                wrong.append(f"{name} {status}: schema {media.get('schema')}")
            example = media.get("example")
            if not (example and example["status"] == int(status) and problem.is_valid(example)):
                wrong.append(f"{name} {status}: example {example}")
    assert wrong == []
    assert errors > 100  # the walk saw the spec's errors


def test_operation_ids_are_the_route_names_and_unique(app: FastAPI) -> None:
    spec = app.openapi()
    ids = Counter(operation["operationId"] for _, operation in operations(spec))
    assert [name for name, count in ids.items() if count > 1] == []
    defaults = re.compile(r"_(get|post|put|patch|delete)$")
    for route in routes(app):
        operation_id = operation_of(spec, route)["operationId"]
        assert operation_id == route.name
        assert operation_id != generate_unique_id(route.original_route)
        assert not defaults.search(operation_id), operation_id
        assert "api_v1" not in operation_id, operation_id


def test_every_route_that_reads_a_token_documents_401(app: FastAPI) -> None:
    spec = app.openapi()
    reading = 0
    for route in routes(app):
        reads_token = any(
            isinstance(dependency.call, SecurityBase)
            for dependency in dependencies(route.dependant)
        )
        operation = operation_of(spec, route)
        assert reads_token == ("security" in operation), route.name
        if reads_token:
            reading += 1
            assert "401" in operation["responses"], route.name
    assert reading >= 20


def test_optional_sign_in_documents_401() -> None:
    """A token sent to a public read must still be valid: `401 invalid_token` otherwise."""
    spec = build_products_app(settings=make_settings("sqlite+aiosqlite://")).openapi()
    for path in ("/api/v1/products", "/api/v1/products/{product_id}"):
        operation = spec["paths"][path]["get"]
        assert operation["security"] == [{"OAuth2PasswordBearer": []}]
        assert "401" in operation["responses"]
        assert "403" not in operation["responses"]


def test_every_route_that_requires_a_role_documents_403(app: FastAPI) -> None:
    spec = app.openapi()
    guarded = 0
    for route in routes(app):
        calls = {dependency.call for dependency in dependencies(route.dependant)}
        if calls & ROLE_GUARDS:
            guarded += 1
            assert "403" in operation_of(spec, route)["responses"], route.name
    assert guarded >= 20


def test_the_token_url_is_relative(app: FastAPI) -> None:
    """Relative, so Swagger UI signs in at this service's own `/auth/token`, behind a path
    prefix too."""
    scheme = app.openapi()["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "auth/token"
    assert "/auth/token" in {route.path for route in routes(app)}


def examples_of(spec: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """A body's documented examples: on the media type, else on its (referenced) schema."""
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [example["value"] for example in media["examples"].values()]
    schema = media.get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("examples", []))


def bodies(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every body of an operation: its request body and each response's, by media type."""
    for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
        yield f"request {media_type}", media
    for status, response in operation["responses"].items():
        for media_type, media in response.get("content", {}).items():
            yield f"{status} {media_type}", media


def test_main_operations_are_described_with_examples(app: FastAPI) -> None:
    spec = app.openapi()
    by_id = {operation["operationId"]: operation for _, operation in operations(spec)}
    main = MAIN_OPERATIONS[app.state.name]
    assert main <= set(by_id)
    missing: list[str] = []
    for operation_id in sorted(main):
        operation = by_id[operation_id]
        # FastAPI's fallback summary is the function's name in title case.
        if operation.get("summary") in (None, "", operation_id.replace("_", " ").title()):
            missing.append(f"{operation_id}: summary")
        if len(operation.get("description", "")) < 40:
            missing.append(f"{operation_id}: description")
        for body, media in bodies(operation):
            found = examples_of(spec, media)
            check = validator(spec, media.get("schema", {}))
            if not found:
                missing.append(f"{operation_id} {body}: no example")
            missing.extend(
                f"{operation_id} {body}: example does not match the schema: {example}"
                for example in found
                if not check.is_valid(example)
            )
    assert missing == []


def test_every_schema_example_matches_its_schema(app: FastAPI) -> None:
    """Examples are documentation a client copies: each one must be a valid value (an example
    inherited by a subclass with more fields would not be)."""
    spec = app.openapi()
    wrong = [
        f"{name}: {example}"
        for name, schema in spec["components"]["schemas"].items()
        for example in schema.get("examples", [])
        if not validator(spec, {"$ref": f"#/components/schemas/{name}"}).is_valid(example)
    ]
    assert wrong == []
