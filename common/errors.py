"""The one family of domain errors. Services raise these; `common.web.errors` renders them.

Each subclass names a stable `code` (clients branch on it), an HTTP status and a title; the
instance carries a human `detail` and optional extra members for the problem body, e.g.
`InsufficientStock(detail=..., available=3)`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.detail)


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    title = "Resource not found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    title = "Conflict with the current state"


class InvalidInput(AppError):
    """422 for input that is well-formed but wrong (an unknown referenced id, a bad range)."""

    status_code = 422
    code = "invalid_input"
    title = "Invalid input"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class Unauthenticated(AppError):
    """401: always carries a `WWW-Authenticate` challenge (RFC 9110 requires one)."""

    status_code = 401
    code = "unauthenticated"
    title = "Authentication required"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer", **(headers or {})}, **extra)


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    title = "Not allowed for this account"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"
    title = "Service temporarily unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    title = "Database unavailable"
