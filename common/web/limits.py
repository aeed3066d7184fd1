"""A global limit on request bodies, as a plain ASGI middleware (nothing is buffered here).

The declared Content-Length is an early, cheap refusal; the bytes are also counted as they
stream in, since a client may send no length (chunked) or lie. Routes that take large uploads
enforce a limit of their own (`common.web.uploads`) and are exempt.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.web.errors import problem_response


class BodyTooLarge(HTTPException):
    """Raised from `receive`: FastAPI re-raises HTTP exceptions met while reading a body (any
    other becomes a 400), so the app's own handler renders the 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {max_bytes} bytes.")


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, exempt_paths: Collection[str] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # Read outside the app's handlers (e.g. by a middleware): answer here instead.
            if response_started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            status=413,
            code="payload_too_large",
            title="Payload too large",
            detail=f"The request body is larger than the limit of {self.max_bytes} bytes.",
            instance=scope.get("path"),
            # The rest of the body is not read; a keep-alive connection would be out of step.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
