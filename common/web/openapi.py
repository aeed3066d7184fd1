"""OpenAPI helpers: a spec that generated clients can rely on.

- Every error response is documented under `application/problem+json` only (what the server
  sends), with the `Problem` schema and an example, so a generated client parses it into a
  typed object instead of `None`.
- operationIds are the route functions' names (`create_product`), unique per service.
- A dependency marked with `@documents_problems(...)` documents those statuses on every route
  that depends on it, however deep (the access guards mark their 401 and 403 this way), and
  every operation that reads a bearer token (its `security`) documents 401, optional sign-in
  included: a token that is sent must be valid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from common.schemas.problem import PROBLEM_MEDIA_TYPE, Problem
from common.web.errors import PROBLEM_TYPE_PREFIX

_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, expired or invalid credentials",
    403: "The account's role does not allow this",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Payload too large",
    422: "Invalid input; `errors` points at each field",
    429: "Too many requests",
    503: "Database unavailable; retry later",
}

# What a client typically reads for each status: (code, title, detail).
_EXAMPLES = {
    400: ("bad_request", "Bad request", "The body is not valid JSON."),
    401: (
        "unauthenticated",
        "Authentication required",
        "Send an access token: Authorization: Bearer <token>.",
    ),
    403: ("forbidden", "Not allowed for this account", "Only an admin may do this."),
    404: ("not_found", "Resource not found", "No product with id 42."),
    409: ("sku_exists", "A product with this SKU exists", "SKU MUG-BLUE-350 is taken."),
    413: (
        "payload_too_large",
        "Payload too large",
        "The request body is larger than the limit of 1048576 bytes.",
    ),
    415: ("unsupported_media_type", "Unsupported media type", "Send a CSV or XLSX file."),
    422: (
        "validation_failed",
        "Request validation failed",
        "#/price: Input should be greater than 0",
    ),
    429: ("too_many_login_attempts", "Too many failed logins", "Retry in 60 seconds."),
    503: (
        "database_unavailable",
        "Database unavailable",
        "The database is unreachable; retry later.",
    ),
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_MARK = "__documented_problems__"
CallableT = TypeVar("CallableT", bound=Callable[..., Any])


def problem_example(status: int) -> dict[str, Any]:
    """A problem body as the server renders one for `status`."""
    code, title, detail = _EXAMPLES.get(status, ("error", "Error", "The request failed."))
    example: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": "/api/v1/products/42",
        "request_id": "5f0c6a3e2b9d4c1a",
    }
    if status == 422:
        example["errors"] = [
            {
                "in": "body",
                "pointer": "#/price",
                "detail": "Input should be greater than 0",
                "type": "greater_than",
            }
        ]
    return example


def problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": dict(_PROBLEM_REF)}}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for a route: each status documented as a problem+json body
    (the spec builder adds the example)."""
    return {
        status: {"description": _DESCRIPTIONS.get(status, "Error"), "content": problem_content()}
        for status in statuses
    }


def documents_problems(*statuses: int) -> Callable[[CallableT], CallableT]:
    """Mark a dependency: every route that depends on it documents these problem statuses."""

    def mark(dependency: CallableT) -> CallableT:
        setattr(dependency, _MARK, (*getattr(dependency, _MARK, ()), *statuses))
        return dependency

    return mark


def documented_routes(app: FastAPI) -> Iterator[RouteContext]:
    """Every API route of the spec, as served: with its routers' prefixes and dependencies."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            yield route


def dependencies_of(dependant: Dependant | None) -> Iterator[Dependant]:
    """The dependencies of a route (its `dependant`), at any depth."""
    for dependency in dependant.dependencies if dependant is not None else ():
        yield dependency
        yield from dependencies_of(dependency)


def dependency_problems(route: RouteContext) -> set[int]:
    """The statuses the route's dependencies (at any depth) are marked to raise."""
    return {
        status
        for dependency in dependencies_of(route.dependant)
        for status in getattr(dependency.call, _MARK, ())
    }


def _is_problem(response: dict[str, Any]) -> bool:
    """Documented with the Problem schema, or with no schema at all (an error says nothing
    else): either way, what the server sends is a problem."""
    schemas = [media.get("schema") for media in response.get("content", {}).values()]
    return all(schema in (None, _PROBLEM_REF) for schema in schemas)


def _nullable(schema: dict[str, Any]) -> bool:
    types = schema.get("type")
    return {"type": "null"} in schema.get("anyOf", ()) or (
        isinstance(types, list) and "null" in types
    )


def restore_nulls(example: Any, schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Put back the `null`s of required fields in an example.

    FastAPI encodes the whole spec with `exclude_none`, which also drops `null` values inside
    examples: a documented `"image_url": null` would vanish, and the example would then lack a
    required field. A required, nullable property missing from an example can only be such a
    `null`, so it is restored, at any depth."""
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[1], {})
    if isinstance(example, list):
        for item in example:
            restore_nulls(item, schema.get("items", {}), components)
        return
    if not isinstance(example, dict):
        return
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in example and _nullable(properties.get(name, {})):
            example[name] = None
    for name, value in example.items():
        if name in properties:
            restore_nulls(value, properties[name], components)
        for variant in properties.get(name, {}).get("anyOf", ()):
            restore_nulls(value, variant, components)


def operation_id(route: APIRoute | RouteContext) -> str:
    """The route function's name: what a generated client calls the operation."""
    return str(route.name)


def install_openapi(app: FastAPI, *, tags: list[dict[str, Any]]) -> None:
    """Spec with the product's tags, where every error is a problem+json body (see the module
    docstring), every operation with a body documents 400 (unparseable) and 413 (too large),
    and every one documents 503."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = spec()
        # FastAPI adds the request's root path (a proxy's prefix) to `app.servers` before it
        # asks for the spec, so operations are tried under the prefix.
        if app.servers:
            return {**app.openapi_schema, "servers": app.servers}
        return app.openapi_schema

    def spec() -> dict[str, Any]:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=tags,
            contact={"name": "E-commerce Manager maintainers"},
            license_info={"name": "MIT"},
        )

        def problem(status: int) -> dict[str, Any]:
            return {"description": _DESCRIPTIONS[status], "content": problem_content()}

        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in components:
            components["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            for name, definition in components["Problem"].pop("$defs", {}).items():
                components.setdefault(name, definition)
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for definition in components.values():
            for example in definition.get("examples", ()):
                restore_nulls(example, definition, components)
        paths = schema.get("paths", {})
        for route in documented_routes(app):
            for method in route.methods or ():
                operation = paths[route.path_format][method.lower()]
                for status in sorted(dependency_problems(route)):
                    operation["responses"].setdefault(str(status), problem(status))
        for path_item in paths.values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = problem(422)
                if "requestBody" in operation:
                    # Any body may be unparseable (400) or over `MAX_BODY_BYTES` (413).
                    for status in (400, 413):
                        responses.setdefault(str(status), problem(status))
                if "security" in operation:
                    # A token that is sent is checked, even where signing in is optional.
                    responses.setdefault("401", problem(401))
                responses.setdefault("503", problem(503))
                for status, response in responses.items():
                    if status[0] in "45" and _is_problem(response):
                        media = {
                            "schema": dict(_PROBLEM_REF),
                            "example": problem_example(int(status)),
                        }
                        response["content"] = {PROBLEM_MEDIA_TYPE: media}
        return schema

    app.openapi = build  # type: ignore[method-assign]
