"""RFC 9457 problem+json for every error the services can produce."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.db.dialect import is_retryable, is_unavailable
from common.errors import AppError
from common.schemas.problem import PROBLEM_MEDIA_TYPE
from common.web.logging import request_id_var

logger = logging.getLogger(__name__)
PROBLEM_TYPE_PREFIX = "urn:ecommerce-manager:problem:"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
        "request_id": request_id_var.get(),
    }
    if errors is not None:
        body["errors"] = list(errors)
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return ProblemResponse(body, status_code=status, headers=headers)


def unexpected_error_response(*, instance: str | None) -> ProblemResponse:
    return problem_response(
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="The server failed to handle this request; it has been logged.",
        instance=instance,
    )


def _pointer(parts: Sequence[Any]) -> str:
    escaped = [str(part).replace("~", "~0").replace("/", "~1") for part in parts]
    return "#/" + "/".join(escaped) if escaped else "#"


def field_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    problems = []
    for error in errors:
        location, *path = error.get("loc", ("body",)) or ("body",)
        if location not in ("body", "query", "path", "header", "cookie"):
            location, path = "body", [location, *path]
        item: dict[str, Any] = {
            "in": location,
            "detail": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        if location == "body":
            item["pointer"] = _pointer(path)
        else:
            item["name"] = ".".join(str(part) for part in path)
        problems.append(item)
    return problems


async def _app_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, AppError)
    return problem_response(
        status=error.status_code,
        code=error.code,
        title=error.title,
        detail=error.detail,
        instance=request.url.path,
        headers=error.headers,
        extra=error.extra,
    )


async def _validation_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, RequestValidationError)
    problems = field_problems(error.errors())
    summary = "; ".join(f"{p.get('pointer') or p.get('name')}: {p['detail']}" for p in problems[:5])
    return problem_response(
        status=422,
        code="validation_failed",
        title="Request validation failed",
        detail=summary or "The request is not valid.",
        instance=request.url.path,
        errors=problems,
    )


async def _http_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = error.detail if isinstance(error.detail, str) else phrase
    if status == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}"
    elif status == 405 and detail == "Method Not Allowed":
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(
        status=status,
        code=_HTTP_CODES.get(status, "http_error"),
        title=phrase,
        detail=detail,
        instance=request.url.path,
        headers=dict(error.headers or {}),
    )


async def _database_error(request: Request, error: Exception) -> ProblemResponse:
    if is_unavailable(error):
        logger.warning("database unavailable: %s", type(error).__name__)
        return problem_response(
            status=503,
            code="database_unavailable",
            title="Database unavailable",
            detail="The database cannot be reached right now; try again shortly.",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )
    if is_retryable(error):
        return problem_response(
            status=503,
            code="database_busy",
            title="Database busy",
            detail="The request kept colliding with concurrent updates; try again.",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )
    if isinstance(error, sa_exc.IntegrityError):
        # A race that the service's own checks could not see (e.g. two inserts of one key):
        # the client's request conflicts with data that now exists.
        logger.warning("integrity conflict reached the edge", exc_info=error)
        return problem_response(
            status=409,
            code="conflict",
            title="Conflict with the current state",
            detail="The request conflicts with data written concurrently; reload and retry.",
            instance=request.url.path,
        )
    logger.error("database error", exc_info=error)
    return unexpected_error_response(instance=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(sa_exc.TimeoutError, _database_error)
    app.add_exception_handler(ConnectionError, _database_error)
