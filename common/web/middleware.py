"""Request id and access log, as a plain ASGI middleware (no buffering of bodies)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.web.errors import unexpected_error_response
from common.web.logging import caller_trace_id_var, request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
# Echo a caller's id only when it is short and printable: it ends up in logs.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# W3C trace context: version-traceid-parentid-flags; an all-zero trace id is invalid.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-(?!0{32})([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")

access_logger = logging.getLogger("access")
error_logger = logging.getLogger("common.web.errors")


class RequestContextMiddleware:
    """Sets `X-Request-ID` (echoed or generated), logs each request, and is the last line of
    defence: an exception nobody handled becomes a 500 problem with no internals."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _ACCEPTABLE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        caller_trace = _TRACEPARENT.match(headers.get(b"traceparent", b"").decode("latin-1"))
        trace_token = caller_trace_id_var.set(caller_trace[1] if caller_trace else None)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_logger.exception("unhandled error")
            if not response_started:
                response = unexpected_error_response(instance=scope.get("path"))
                await response(scope, receive, send_with_id)
        finally:
            access_logger.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status_code,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)
            caller_trace_id_var.reset(trace_token)


# Answers that carry credentials or account data: never cached, never sniffed, never framed.
SENSITIVE_RESPONSE_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
)


class SensitiveResponseHeadersMiddleware:
    """`X-Content-Type-Options: nosniff`, `Content-Security-Policy: frame-ancestors 'none'` and
    `Cache-Control: no-store` on every answer under `path_prefixes` (tokens, accounts), errors
    included; a header the route set itself is replaced."""

    def __init__(self, app: ASGIApp, *, path_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.path_prefixes = path_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.path_prefixes):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SENSITIVE_RESPONSE_HEADERS:
                    headers[name.decode()] = value.decode()
            await send(message)

        await self.app(scope, receive, send_with_headers)
