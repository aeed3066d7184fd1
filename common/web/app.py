"""`create_app`: the one way both services are assembled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_fastapi_instrumentator import Instrumentator

from common import __version__
from common.config import Settings, get_settings
from common.db.engine import Database
from common.web.errors import install_error_handlers
from common.web.health import router as health_router
from common.web.limits import BodySizeLimitMiddleware
from common.web.logging import configure_logging
from common.web.middleware import REQUEST_ID_HEADER, RequestContextMiddleware
from common.web.openapi import install_openapi

API_PREFIX = "/api/v1"
# A coroutine that runs for the life of the app (e.g. a periodic sweep), cancelled at shutdown.
BackgroundTask = Callable[[Database, Settings], Coroutine[Any, Any, None]]
HEALTH_TAG = {"name": "health", "description": "Liveness and readiness probes."}


def create_app(
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    root_routers: Sequence[APIRouter] = (),
    tags: Sequence[dict[str, Any]] = (),
    settings: Settings | None = None,
    database: Database | None = None,
    background_tasks: Sequence[BackgroundTask] = (),
    own_body_limit_paths: Sequence[str] = (),
) -> FastAPI:
    """Build a service. `routers` are mounted under `/api/v1`, `root_routers` at `/`.

    The engine is created when the app starts and disposed when it stops. Pass `database` to
    run on engines the caller owns (tests); they are then left open at shutdown.
    `background_tasks` start after the engine and are cancelled (and awaited) before it is
    disposed. `own_body_limit_paths` (uploads) enforce a body limit of their own instead of
    `MAX_BODY_BYTES`.
    """
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json, service=title)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        app.state.db = database or Database.from_settings(settings)
        tasks = [asyncio.create_task(task(app.state.db, settings)) for task in background_tasks]
        try:
            yield
        finally:
            for running in tasks:
                running.cancel()
            for running in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await running
            if owned:
                await app.state.db.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
        swagger_ui_parameters={"persistAuthorization": True},
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health_router)
    for router in root_routers:
        app.include_router(router)
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    install_openapi(app, tags=[*tags, HEALTH_TAG])

    Instrumentator(
        excluded_handlers=["/metrics", "/health", "/ready"],
        should_group_status_codes=False,
        registry=metrics_registry(),
    ).instrument(app, metric_namespace="ecommerce", metric_subsystem=title_slug(title)).expose(
        app, endpoint="/metrics", include_in_schema=False
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[REQUEST_ID_HEADER, "Location", "Retry-After"],
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        exempt_paths=own_body_limit_paths,
    )
    # Added last, so it is the outermost: every response, even a crash, carries the id.
    app.add_middleware(RequestContextMiddleware)
    return app


def metrics_registry() -> CollectorRegistry:
    """A registry per app. With the process-wide default one, only the first app of a given
    title that serves a request in a process gets metrics (the instrumentator skips metrics
    already registered), so any later app - every test after the first - recorded none."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def title_slug(title: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in title.lower()).strip("_")
