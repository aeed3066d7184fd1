"""Prometheus metrics of a service: `http_requests_total` and `http_request_duration_seconds`
with a `service` label, on a registry per app, plus the gauges the app's tasks export."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator.metrics import Info

# Request latency buckets (seconds), fine enough for a p99 from `histogram_quantile`.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def metrics_registry(collectors: Sequence[Collector] = ()) -> CollectorRegistry:
    """A registry per app. With the process-wide default one, only the first app of a given
    title that serves a request in a process gets metrics (the instrumentator skips metrics
    already registered), so any later app - every test after the first - recorded none.
    `collectors` (process-wide gauges, made with no registry) join it."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    for collector in collectors:
        registry.register(collector)
    return registry


def http_metrics(registry: CollectorRegistry, *, service: str) -> Callable[[Info], None]:
    """The instrumentator's callback recording each request under the plain, documented
    names. (Its own metric functions would prefix namespace and subsystem, and look custom
    labels up on the request instead of using their values.)"""
    requests = Counter(
        "http_requests_total",
        "Requests by service, method, route template and status code.",
        ["service", "method", "handler", "status"],
        registry=registry,
    )
    duration = Histogram(
        "http_request_duration_seconds",
        "Seconds from the request's arrival to its response's last byte, by route template.",
        ["service", "method", "handler"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )

    def record(info: Info) -> None:
        requests.labels(service, info.method, info.modified_handler, info.modified_status).inc()
        duration.labels(service, info.method, info.modified_handler).observe(info.modified_duration)

    return record
