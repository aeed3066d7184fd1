"""`/docs` and `/redoc` served offline, under a Content-Security-Policy that allows no origin
but the service's own.

The pages and their scripts come from the pinned `fastapi-offline` package (Swagger UI and
ReDoc bundles inside the wheel, mounted at `DOCS_STATIC_URL`): nothing is copied into this
repository and nothing is fetched from a CDN, so the documents render on a machine with no
internet. The policy makes that a rule the browser enforces: a page that tried to load a
script, a style, a font or a spec from elsewhere would be refused (and say so in its console).

ReDoc's bundle renders a "by Redocly" logo from `cdn.redoc.ly` in its sidebar, whatever its
options; `/docs/redoc.js` serves the package's bundle with that one address replaced by an
empty `data:` URL (the logo's own error handler then hides it), so ReDoc makes no request the
policy would have to refuse.

Swagger UI starts from one inline script whose text depends on the request (the root path is
in its URLs), so the policy allows that script by its SHA-256, computed from the page sent;
no `'unsafe-inline'` for scripts. Both UIs set inline styles as they render, hence
`'unsafe-inline'` for styles only; the icons are `data:` images.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Collection
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_STATIC_URL = "/docs/static"
REDOC_URL = "/redoc"
REDOC_JS_URL = "/docs/redoc.js"
_REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
# Inline scripts only: a `<script src=...>` is covered by 'self'.
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def content_security_policy(html: bytes) -> str:
    """The policy for one documentation page: its own origin, plus its inline scripts by hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {hashes}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            # ReDoc builds its search index in a worker started from a blob.
            "worker-src 'self' blob:",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@functools.cache
def _redoc_bundle() -> bytes:
    """The package's ReDoc bundle, without its one request to another origin (read once)."""
    bundle = (files("fastapi_offline") / "static" / "redoc.standalone.js").read_bytes()
    return bundle.replace(_REDOC_LOGO, b"data:,")


def install_redoc(app: FastAPI) -> None:
    """`/redoc` on the package's bundle as `_redoc_bundle` serves it (the app is built with
    `redoc_url=None`, so this replaces the package's own page)."""
    bundle = _redoc_bundle()

    @app.get(REDOC_JS_URL, include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(
            bundle,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc_html(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{REDOC_JS_URL}",
            redoc_favicon_url=f"{root}{DOCS_STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )


class DocsSecurityMiddleware:
    """Adds the policy to the documentation pages (`pages`, paths without the root path).

    Only those small HTML pages are buffered, to hash what they inline; every other response
    passes through untouched."""

    def __init__(self, app: ASGIApp, *, pages: Collection[str]) -> None:
        self.app = app
        self.pages = frozenset(pages)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route_path(scope) not in self.pages:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def buffered_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            headers = MutableHeaders(scope=start)
            if headers.get("content-type", "").startswith("text/html"):
                headers["Content-Security-Policy"] = content_security_policy(bytes(body))
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
            await send(start)
            await send({"type": "http.response.body", "body": bytes(body)})

        await self.app(scope, receive, buffered_send)


def _route_path(scope: Scope) -> str:
    """The path as the app routes it: servers may or may not prefix it with the root path."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path
