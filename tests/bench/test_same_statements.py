"""The benchmark's "same statements" floor sends exactly what the service sends: for one
request, the statements captured from the products service and from `bench.raw_app`'s `/same/`
route are the same list, and both answer with the same product. The wrk report line is read as
wrk prints it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event

from bench import raw_app
from bench.wrk import parse_report
from common.config import Settings
from common.db import Database
from products_microservice.main import build_app as build_products_app
from tests.fixtures.clients import make_products, serve
from tests.fixtures.databases import Backend


def one_line(statement: str) -> str:
    # SQLAlchemy breaks lines before FROM and WHERE; the server reads any whitespace alike.
    return " ".join(statement.split())


@pytest.fixture
async def raw_client(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[object]:
    monkeypatch.setenv("DATABASE_URL", backend.url)
    monkeypatch.setenv("DB_POOL_SIZE", "2")
    async for client in serve(raw_app.app):
        yield client


@pytest.mark.mysql_only
async def test_the_same_statements_product_read_replays_the_services_statements(
    settings: Settings,
    committed_database: Database,
    raw_client: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (product,) = await make_products(settings, committed_database, 9)
    captured: list[str] = []

    def capture(_c: object, _cursor: object, statement: str, *_rest: object) -> None:
        captured.append(one_line(statement))

    app = build_products_app(settings=settings, database=committed_database)
    event.listen(committed_database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async for client in serve(app):
            served = await client.get(f"/api/v1/products/{product}")
    finally:
        event.remove(committed_database.engine.sync_engine, "before_cursor_execute", capture)

    replayed: list[str] = []
    monkeypatch.setattr(raw_app, "recorded", replayed)
    same = await raw_client.get(f"/same/products/{product}")  # type: ignore[attr-defined]

    assert served.status_code == same.status_code == 200
    assert captured
    assert [one_line(statement) for statement in replayed] == captured
    assert (same.json()["id"], same.json()["stock_on_hand"]) == (product, 9)
    # An anonymous read, as the benchmark sends it: the status, not the numbers.
    assert (served.json()["id"], served.json()["stock_on_hand"]) == (product, None)
    assert served.json()["stock_status"] in {"in_stock", "low_stock"}


def test_the_wrk_report_line_gives_rates_latencies_and_failures() -> None:
    output = (
        "Running 10s test @ http://127.0.0.1:1\n"
        'WRK_JSON {"requests": 5000, "duration_us": 10000000, "p50_us": 2500, '
        '"p99_us": 9100, "non_2xx": 3, "socket_errors": 1}\n'
    )
    run = parse_report("x", output)
    assert (run.rps, run.p50_ms, run.p99_ms, run.non_2xx, run.socket_errors) == (
        500.0,
        2.5,
        9.1,
        3,
        1,
    )
    with pytest.raises(RuntimeError, match="no report line"):
        parse_report("x", "Running 10s test\n")
