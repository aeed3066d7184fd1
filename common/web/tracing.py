"""OpenTelemetry tracing of a service: off unless `OTEL_TRACES_EXPORTER` names an exporter.

Off (the default) nothing is instrumented and the SDK is not even imported: no middleware, no
engine listeners, no cost. On, every request becomes a server span (a W3C `traceparent` from
the caller is continued, per the propagators of `OTEL_PROPAGATORS`, W3C trace context by
default) with a child span per SQL statement, and every log line of the request carries its
`trace_id`. Everything else comes from the SDK's standard variables: `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_*`.

Unlike the SDK's own default (`otlp` when unset), an unset exporter means no tracing: a
service should not start sending spans to a collector nobody configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from fastapi import FastAPI
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

# Probes and the metrics scrape would drown the traces that matter.
DEFAULT_EXCLUDED_URLS = "/health,/ready,/metrics"
KNOWN_EXPORTERS = ("otlp", "console", "none")


class TracingMisconfigured(ValueError):
    """An `OTEL_*` variable asks for something this build cannot do."""


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters `OTEL_TRACES_EXPORTER` asks for; empty means tracing is off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    return [name for name in names if name and name != "none"]


def tracer_provider_from_environment(
    service: str, environ: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """A tracer provider exporting where the `OTEL_*` variables say, or None when tracing is
    off. Raises `TracingMisconfigured` for an exporter or protocol this build lacks."""
    environ = os.environ if environ is None else environ
    names = exporter_names(environ)
    if not names:
        return None
    exporters = [_exporter(name, environ) for name in names]

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME, when set, wins over the built-in name; the rest of the resource
    # (OTEL_RESOURCE_ATTRIBUTES) is the SDK's to read.
    name = environ.get("OTEL_SERVICE_NAME", "").strip() or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter:
    if name == "otlp":
        protocol = environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        )
        if protocol != "http/protobuf":
            raise TracingMisconfigured(
                f"OTLP protocol {protocol!r} is not installed: this build exports traces over "
                "http/protobuf (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, port 4318)"
            )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise TracingMisconfigured(
        f"OTEL_TRACES_EXPORTER={name!r} is not available; use one of {', '.join(KNOWN_EXPORTERS)}"
    )


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """Trace every request of `app` (a server span, continuing the caller's `traceparent`)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS),
        # One span per request, not three: the ASGI receive and send events add nothing.
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: AsyncEngine, provider: TracerProvider) -> None:
    """A span per SQL statement on `engine`, a child of the request's span.

    The instrumentor's own `instrument()` patches `create_engine` for the whole process; the
    engine tracer it uses underneath instruments this one engine only."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import NoOpMeterProvider

    connections_usage = (
        NoOpMeterProvider()
        .get_meter(__name__)
        .create_up_down_counter("db.client.connections.usage", unit="connections")
    )
    EngineTracer(  # type: ignore[no-untyped-call]
        provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__),
        engine.sync_engine,
        connections_usage,
    )


def current_trace_id() -> str | None:
    """The trace id (32 hex digits) of the span this code runs in, if any (the API only: no
    SDK, no cost when tracing is off)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
