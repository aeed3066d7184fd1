"""Metrics under their documented names with a `service` label, and OpenTelemetry tracing:
a caller's `traceparent` continued into the request's spans (SQL included) and its log lines,
and nothing instrumented while tracing is off.

The spans are the real SDK's, kept by its in-memory exporter instead of sent to a collector.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter, FastAPI
from httpx import AsyncClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from common.config import Settings
from common.db import Database
from common.ops.ledger_watch import audit_ledgers
from common.web import SessionDep, create_app
from common.web.tracing import TracingMisconfigured, tracer_provider_from_environment
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.clients import serve
from tests.fixtures.databases import Backend

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"

traced = APIRouter(prefix="/traced")
logger = logging.getLogger("tests.traced")


@traced.get("/query")
async def query(session: SessionDep) -> dict[str, int]:
    logger.warning("inside the traced request")
    return {"value": int(await session.scalar(text("SELECT 41 + 1")) or 0)}


def probe_app(settings: Settings, database: Database, provider: TracerProvider | None) -> FastAPI:
    return create_app(
        title="Traced probe",
        service="probe",
        description="test app",
        routers=[traced],
        # INFO: the access lines are what every request writes.
        settings=settings.model_copy(update={"log_level": "INFO"}),
        database=database,
        tracer_provider=provider,
    )


@pytest.fixture
async def own_database(backend: Backend) -> AsyncIterator[Database]:
    """An engine of the test's own: instrumenting the session-wide one would trace every
    later test."""
    database = Database.from_settings(backend.settings)
    yield database
    await database.dispose()


@pytest.fixture
def no_tracing_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)


def log_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def test_a_request_with_traceparent_is_traced_under_that_trace_id_sql_included(
    capsys: pytest.CaptureFixture[str], settings: Settings, own_database: Database
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async for client in serve(probe_app(settings, own_database, provider)):
        response = await client.get("/api/v1/traced/query", headers={"traceparent": TRACEPARENT})
    assert response.json() == {"value": 42}
    spans = exporter.get_finished_spans()
    server = [span for span in spans if span.kind == SpanKind.SERVER]
    assert len(server) == 1
    assert format(server[0].context.trace_id, "032x") == TRACE_ID
    assert server[0].parent is not None
    assert format(server[0].parent.span_id, "016x") == CALLER_SPAN_ID
    assert server[0].attributes is not None
    assert server[0].attributes.get("http.route") == "/api/v1/traced/query"
    sql = [span for span in spans if span.kind == SpanKind.CLIENT and "SELECT" in span.name]
    assert sql, [span.name for span in spans]
    assert {format(span.context.trace_id, "032x") for span in sql} == {TRACE_ID}
    assert all(span.parent is not None for span in sql)
    lines = log_lines(capsys.readouterr().out)
    ours = [line for line in lines if line.get("message") == "inside the traced request"]
    access = [line for line in lines if line.get("logger") == "access"]
    assert [line["trace_id"] for line in ours] == [TRACE_ID]
    assert [line["trace_id"] for line in access] == [TRACE_ID]


async def test_without_traceparent_the_request_starts_a_trace_its_logs_carry(
    capsys: pytest.CaptureFixture[str], settings: Settings, own_database: Database
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async for client in serve(probe_app(settings, own_database, provider)):
        await client.get("/api/v1/traced/query")
    (server,) = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]
    access = [line for line in log_lines(capsys.readouterr().out) if line["logger"] == "access"]
    assert [line["trace_id"] for line in access] == [format(server.context.trace_id, "032x")]


@pytest.mark.usefixtures("no_tracing_variables")
async def test_with_tracing_off_nothing_is_instrumented(
    capsys: pytest.CaptureFixture[str], settings: Settings, own_database: Database
) -> None:
    app = probe_app(settings, own_database, None)
    assert not any("opentelemetry" in m.cls.__module__ for m in app.user_middleware)
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    async for client in serve(app):
        response = await client.get("/api/v1/traced/query", headers={"traceparent": TRACEPARENT})
        listeners = own_database.engine.sync_engine.dispatch.before_cursor_execute
        assert not any("opentelemetry" in getattr(fn, "__module__", "") for fn in listeners)
    assert response.json() == {"value": 42}
    # The lines still join the caller's trace, from its header.
    access = [line for line in log_lines(capsys.readouterr().out) if line["logger"] == "access"]
    assert [line["trace_id"] for line in access] == [TRACE_ID]


def test_tracing_is_off_unless_an_exporter_is_named() -> None:
    assert tracer_provider_from_environment("probe", {}) is None
    assert tracer_provider_from_environment("probe", {"OTEL_TRACES_EXPORTER": "none"}) is None
    disabled = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}
    assert tracer_provider_from_environment("probe", disabled) is None


def test_the_standard_variables_configure_the_provider() -> None:
    provider = tracer_provider_from_environment(
        "probe", {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SERVICE_NAME": "shop-sales"}
    )
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "shop-sales"
    provider.shutdown()
    named = tracer_provider_from_environment("probe", {"OTEL_TRACES_EXPORTER": "console"})
    assert named is not None
    assert named.resource.attributes["service.name"] == "probe"
    named.shutdown()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "not available"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "http/protobuf",
        ),
    ],
)
def test_an_exporter_this_build_lacks_is_refused_clearly(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(TracingMisconfigured, match=message):
        tracer_provider_from_environment("probe", environ)


def test_otel_traces_exporter_turns_tracing_on_for_the_services(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    app = build_products_app(settings=settings)
    assert getattr(app, "_is_instrumented_by_opentelemetry", False)


# --- metrics -------------------------------------------------------------------------------


def metric_samples(text_format: str) -> dict[str, list[dict[str, str]]]:
    samples: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text_format):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample.labels)
    return samples


@pytest.mark.parametrize(
    ("build", "service"), [(build_products_app, "products"), (build_sales_app, "sales")]
)
async def test_metrics_have_the_documented_names_and_a_service_label(
    build: object, service: str, settings: Settings, isolated_database: Database
) -> None:
    app = build(settings=settings, database=isolated_database)  # type: ignore[operator]
    client: AsyncClient
    async for client in serve(app):
        await client.get("/openapi.json")
        await client.get("/ready")
        samples = metric_samples((await client.get("/metrics")).text)
    assert not [name for name in samples if name.startswith("ecommerce_")]
    requests = [s for s in samples["http_requests_total"] if s["handler"] == "/openapi.json"]
    assert requests == [
        {"service": service, "method": "GET", "handler": "/openapi.json", "status": "200"}
    ]
    buckets = samples["http_request_duration_seconds_bucket"]
    assert {labels["service"] for labels in buckets} == {service}
    assert {"le": "0.005", "service": service, "method": "GET", "handler": "/openapi.json"} in (
        buckets
    )
    assert {"service": service} in samples["readiness_status"]


async def test_the_sales_service_exports_sweeper_and_ledger_gauges(
    settings: Settings, isolated_database: Database
) -> None:
    await audit_ledgers(isolated_database)
    async for client in serve(build_sales_app(settings=settings, database=isolated_database)):
        samples = metric_samples((await client.get("/metrics")).text)
    assert {labels["ledger"] for labels in samples["ledger_drift_rows"]} == {
        "inventory",
        "ratings",
        "wallet",
    }
    for name in (
        "ledger_audit_last_success_timestamp_seconds",
        "sweeper_last_success_timestamp_seconds",
        "sweeper_interval_seconds",
    ):
        assert name in samples
