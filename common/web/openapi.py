"""OpenAPI helpers: documented problem responses on every operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from common.schemas.problem import PROBLEM_MEDIA_TYPE, Problem

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


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for a route: each status documented as a problem+json body."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


def install_openapi(app: FastAPI, *, tags: list[dict[str, Any]]) -> None:
    """Spec with the product's tags, where every 422 and 503 is a problem+json body, and
    every operation with a body documents 400 (unparseable) and 413 (too large)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=tags,
            contact={"name": "E-commerce Manager maintainers"},
            license_info={"name": "MIT"},
        )
        problem_ref = {"$ref": "#/components/schemas/Problem"}

        def problem(status: int) -> dict[str, Any]:
            return {
                "description": _DESCRIPTIONS[status],
                "content": {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}},
            }

        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in components:
            components["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            for name, definition in components["Problem"].pop("$defs", {}).items():
                components.setdefault(name, definition)
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = problem(422)
                if "requestBody" in operation:
                    # Any body may be unparseable (400) or over `MAX_BODY_BYTES` (413).
                    for status in (400, 413):
                        responses.setdefault(str(status), problem(status))
                responses.setdefault("503", problem(503))
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
