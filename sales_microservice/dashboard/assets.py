"""The dashboard's files, read once per process: the page written here (`static/`) and
plotly.js from the installed, pinned `plotly` package (never copied into the repository).

Each asset keeps its bytes, their gzip form (plotly.js is 4.6 MB raw, 1.4 MB gzipped) and a
content hash used both as the ETag and as the `?v=` the page links it with, so a browser may
keep an asset for a day and still sees a new version at once.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import html
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from common.config import Settings

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# The page's own files, and the one from the `plotly` package.
OWN_ASSETS = ("app.js", "app.css")
PLOTLY = "plotly.min.js"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    etag: str


def plotly_path() -> Path:
    """plotly.js as the `plotly` wheel ships it, found without importing the package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / PLOTLY


@cache
def _load(name: str) -> Asset:
    path = plotly_path() if name == PLOTLY else STATIC / name
    body = path.read_bytes()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        media_type=MEDIA_TYPES[path.suffix],
        etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
    )


async def load_asset(name: str) -> Asset:
    """Read (and compress) in a worker thread the first time: never on the event loop."""
    return await asyncio.to_thread(_load, name)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    """Only the two services: the page's own origin and the products API's. Plotly writes
    inline styles, hence `style-src 'unsafe-inline'`; no inline script is allowed."""
    products = origin_of(settings.products_public_url)
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            f"connect-src 'self' {products}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


# Reports the page shows once the service has them (the order and customer analytics).
OPTIONAL_REPORTS = {
    "orders": "/api/v1/analytics/orders",
    "customers": "/api/v1/analytics/customers",
    "top-customers": "/api/v1/analytics/customers/top",
}


async def render_index(settings: Settings, *, paths: Iterable[str]) -> str:
    """index.html with its settings filled in and every asset linked by its version.

    `paths` are the service's routes: the page asks only for the optional reports among them
    (a request that 404s would still show in the browser's console)."""
    template = await asyncio.to_thread((STATIC / "index.html").read_text, "utf-8")
    served = set(paths)
    values = {
        "products_url": settings.products_public_url,
        "store_timezone": settings.store_timezone,
        "optional_reports": " ".join(
            name for name, path in OPTIONAL_REPORTS.items() if path in served
        ),
    }
    for name in (*OWN_ASSETS, PLOTLY):
        values["v_" + name.replace(".", "_")] = (await load_asset(name)).etag.strip('"')
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", html.escape(value, quote=True))
    return template
