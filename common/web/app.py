"""`create_app`: the one way both services are assembled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from common import __version__
from common.config import Settings, get_settings
from common.db.engine import Database
from common.web.docs import DOCS_STATIC_URL, REDOC_URL, DocsSecurityMiddleware, install_redoc
from common.web.errors import install_error_handlers
from common.web.health import HEALTH_METRICS
from common.web.health import router as health_router
from common.web.limits import BodySizeLimitMiddleware
from common.web.logging import configure_logging
from common.web.metrics import http_metrics, metrics_registry
from common.web.middleware import (
    REQUEST_ID_HEADER,
    RequestContextMiddleware,
    SensitiveResponseHeadersMiddleware,
)
from common.web.openapi import install_openapi, operation_id
from common.web.tracing import instrument_app, instrument_engine, tracer_provider_from_environment

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

API_PREFIX = "/api/v1"
# A coroutine that runs for the life of the app (e.g. a periodic sweep), cancelled at shutdown.
BackgroundTask = Callable[[Database, Settings], Coroutine[Any, Any, None]]
HEALTH_TAG = {"name": "health", "description": "Liveness and readiness probes."}


def create_app(
    *,
    title: str,
    service: str | None = None,
    description: str,
    routers: Sequence[APIRouter] = (),
    root_routers: Sequence[APIRouter] = (),
    tags: Sequence[dict[str, Any]] = (),
    settings: Settings | None = None,
    database: Database | None = None,
    background_tasks: Sequence[BackgroundTask] = (),
    own_body_limit_paths: Sequence[str] = (),
    collectors: Sequence[Collector] = (),
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build a service. `routers` are mounted under `/api/v1`, `root_routers` at `/`.

    The engine is created when the app starts and disposed when it stops. Pass `database` to
    run on engines the caller owns (tests); they are then left open at shutdown.
    `background_tasks` start after the engine and are cancelled (and awaited) before it is
    disposed. `own_body_limit_paths` (uploads) enforce a body limit of their own instead of
    `MAX_BODY_BYTES`.

    `service` (`products`, `sales`; default: the title) labels the metrics and logs and
    names the traces.
    `collectors` join the app's `/metrics` (its background tasks' gauges). Tracing follows
    the `OTEL_*` variables (`common.web.tracing`, off by default); tests pass a
    `tracer_provider` of their own instead.
    """
    settings = settings or get_settings()
    service = service or title
    configure_logging(level=settings.log_level, json_lines=settings.log_json, service=service)
    owns_tracing = tracer_provider is None
    tracer_provider = tracer_provider or tracer_provider_from_environment(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        app.state.db = database or Database.from_settings(settings)
        if tracer_provider is not None:
            instrument_engine(app.state.db.engine, tracer_provider)
            if app.state.db.read_engine is not None:
                instrument_engine(app.state.db.read_engine, tracer_provider)
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
            if tracer_provider is not None and owns_tracing:
                tracer_provider.shutdown()  # flushes the spans still batched

    # `/docs` and `/redoc` from the pinned package's own Swagger UI and ReDoc (no CDN).
    app = FastAPIOffline(
        title=title,
        description=description,
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,  # `install_redoc`: the package's bundle, without its CDN logo
        static_url=DOCS_STATIC_URL,
        openapi_url="/openapi.json",
        generate_unique_id_function=operation_id,
        # No validator badge: it would send the spec to validator.swagger.io.
        swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None},
    )
    install_redoc(app)
    app.state.settings = settings
    app.state.service = service
    install_error_handlers(app)
    app.include_router(health_router)
    for router in root_routers:
        app.include_router(router)
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    install_openapi(app, tags=[*tags, HEALTH_TAG])

    registry = metrics_registry([*HEALTH_METRICS, *collectors])
    Instrumentator(
        excluded_handlers=["/metrics", "/health", "/ready"],
        should_group_status_codes=False,
        registry=registry,
    ).add(http_metrics(registry, service=service)).instrument(app).expose(
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
    app.add_middleware(
        DocsSecurityMiddleware,
        pages=["/docs", REDOC_URL, "/docs/oauth2-redirect"],
    )
    app.add_middleware(
        SensitiveResponseHeadersMiddleware, path_prefixes=("/auth/", f"{API_PREFIX}/auth/")
    )
    # Added last, so it is the outermost: every response, even a crash, carries the id.
    app.add_middleware(RequestContextMiddleware)
    # Outside even that, so logs and every limit see the client as TRUSTED_PROXIES say:
    # X-Forwarded-For is believed only from those addresses (none by default).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    if tracer_provider is not None:
        # Outside even that, so the request's log lines are written inside its span.
        instrument_app(app, tracer_provider)
    return app
