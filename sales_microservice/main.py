"""The sales service: `uvicorn sales_microservice.main:app --port 8001`."""

from typing import Any

from fastapi import FastAPI

from common.events.dispatcher import DISPATCHER_METRICS, run_dispatcher
from common.identity.router import AUTH_TAG
from common.identity.router import router as auth_router
from common.ops.ledger_watch import LEDGER_METRICS, run_ledger_watch
from common.ops.sweeper import SWEEPER_METRICS, run_sweeper
from common.web import create_app
from sales_microservice.analytics.router import router as analytics_router
from sales_microservice.auth.router import router as registration_router
from sales_microservice.customers.router import router as customers_router
from sales_microservice.dashboard.router import router as dashboard_router
from sales_microservice.events.router import router as events_router
from sales_microservice.exports.router import router as exports_router
from sales_microservice.orders.router import customer_orders_router, orders_router
from sales_microservice.payments.router import router as payments_router
from sales_microservice.sales.router import router as sales_router
from sales_microservice.wallet.router import router as wallet_router
from sales_microservice.webhooks.router import deliveries_router
from sales_microservice.webhooks.router import router as webhooks_router

TAGS = [
    AUTH_TAG,
    {"name": "customers", "description": "Accounts: search, create, update, deactivate."},
    {
        "name": "wallet",
        "description": "Customer wallets: an append-only ledger behind a balance that never "
        "goes below zero. Every credit names its payer: an admin's store credit, or a "
        "customer's top-up paid through a provider. Top-ups and debits accept an "
        "`Idempotency-Key`.",
    },
    {
        "name": "payments",
        "description": "Payment providers confirm or decline customers' top-ups through "
        "callbacks signed with Standard Webhooks.",
    },
    {
        "name": "orders",
        "description": "Orders: placed (stock reserved), paid from the wallet (sold), "
        "cancelled or refunded, shipped and delivered, with their status history. Place, "
        "pay and cancel accept an `Idempotency-Key`.",
    },
    {
        "name": "sales",
        "description": "Sales transactions: each takes stock and feeds the daily rollup.",
    },
    {
        "name": "analytics",
        "description": "Revenue, refunds, cost, profit and units by period, category and "
        "product, with period comparisons; `Accept: text/csv` for CSV. The rollups check "
        "themselves against the raw sales (`/analytics/consistency`) and can be rebuilt.",
    },
    {
        "name": "dashboard",
        "description": "The manager's dashboard page at `/dashboard/` and its files; it shows "
        "what the public APIs of both services answer an admin.",
    },
    {
        "name": "exports",
        "description": "Orders, customers, sales and wallet entries as streamed CSV or XLSX "
        "files. Admins only.",
    },
    {
        "name": "events",
        "description": "The outbox: every business event, written in the transaction of its "
        "change, read as a log with a keyset cursor (docs/events.md). Admins only.",
    },
    {
        "name": "webhooks",
        "description": "Subscriptions that receive events as Standard Webhooks (signed, at "
        "least once, retried with backoff), and their deliveries. Admins only.",
    },
]

DESCRIPTION = """
Sales transactions and revenue analytics for the e-commerce manager's dashboard: what sold,
when, and how it compares with before.

Errors are `application/problem+json` with a stable `code`.
"""


def build_app(**overrides: Any) -> FastAPI:
    """The service; tests pass `settings=` and `database=` overrides."""
    return create_app(
        service="sales",
        title="E-commerce Manager - Sales",
        description=DESCRIPTION,
        routers=[
            registration_router,
            customers_router,
            wallet_router,
            payments_router,
            orders_router,
            customer_orders_router,
            sales_router,
            analytics_router,
            exports_router,
            events_router,
            webhooks_router,
            deliveries_router,
        ],
        root_routers=[auth_router, dashboard_router],
        tags=TAGS,
        # Expires unpaid orders and stale reservations every SWEEP_INTERVAL_SECONDS; sends
        # events to webhooks and the broker every EVENT_DISPATCH_INTERVAL_SECONDS.
        background_tasks=[run_sweeper, run_ledger_watch, run_dispatcher],
        collectors=[*SWEEPER_METRICS, *LEDGER_METRICS, *DISPATCHER_METRICS],
        **overrides,
    )


def __getattr__(name: str) -> FastAPI:
    """`uvicorn ...main:app` builds the service on first access, so importing `build_app` (the
    tests do) reads no settings: they refuse to load without a JWT_SECRET."""
    if name == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
