"""`/dashboard/`: the manager's page and its files, public (the page signs in by itself).

The page is not an API: it gets no data here. Everything it shows comes from the public APIs
of both services, called from the browser with the signed-in admin's token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from common.identity.access import Public
from common.web import SettingsDep
from common.web.openapi import documented_routes
from sales_microservice.dashboard.assets import (
    PLOTLY,
    content_security_policy,
    load_asset,
    render_index,
)

router = APIRouter(prefix="/dashboard", tags=["dashboard"])
# Linked with `?v=<hash>`, so a day's caching never serves an old version to a new page.
ASSET_CACHE = "public, max-age=86400"


def _asset_responses(media_type: str) -> dict[int | str, dict[str, object]]:
    return {
        200: {"content": {media_type: {}}, "description": "The file (gzip when accepted)"},
        304: {"description": "Not modified (`If-None-Match` names the current ETag)"},
    }


async def _serve(request: Request, name: str) -> Response:
    asset = await load_asset(name)
    headers = {"ETag": asset.etag, "Cache-Control": ASSET_CACHE, "Vary": "Accept-Encoding"}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)


@router.get(
    "/",
    response_class=HTMLResponse,
    summary="The manager's dashboard (sign in with an admin account)",
    responses={200: {"content": {"text/html": {}}, "description": "The page"}},
)
async def dashboard_page(_public: Public, request: Request, settings: SettingsDep) -> HTMLResponse:
    # As served, with the routers' prefixes (FastAPI nests included routers).
    paths = (route.path or "" for route in documented_routes(request.app))
    return HTMLResponse(
        await render_index(settings, paths=paths),
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": content_security_policy(settings),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get(
    "/app.js",
    response_class=Response,
    summary="The dashboard's script",
    responses=_asset_responses("text/javascript"),
)
async def dashboard_script(_public: Public, request: Request) -> Response:
    return await _serve(request, "app.js")


@router.get(
    "/app.css",
    response_class=Response,
    summary="The dashboard's style sheet",
    responses=_asset_responses("text/css"),
)
async def dashboard_styles(_public: Public, request: Request) -> Response:
    return await _serve(request, "app.css")


@router.get(
    "/plotly.min.js",
    response_class=Response,
    summary="plotly.js, from the installed `plotly` package",
    responses=_asset_responses("text/javascript"),
)
async def dashboard_plotly(_public: Public, request: Request) -> Response:
    return await _serve(request, PLOTLY)
