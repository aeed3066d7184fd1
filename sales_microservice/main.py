"""The sales service: `uvicorn sales_microservice.main:app --port 8001`."""

from typing import Any

from fastapi import FastAPI

from common.web import create_app
from sales_microservice.analytics.router import router as analytics_router
from sales_microservice.sales.router import router as sales_router

DESCRIPTION = """
Sales transactions and revenue analytics for the e-commerce manager's dashboard: what sold,
when, and how it compares with before.

Errors are `application/problem+json` with a stable `code`.
"""


def build_app(**overrides: Any) -> FastAPI:
    """The service; tests pass `settings=` and `database=` overrides."""
    return create_app(
        title="E-commerce Manager - Sales",
        description=DESCRIPTION,
        routers=[sales_router, analytics_router],
        tags=[
            {
                "name": "sales",
                "description": "Sales transactions: each takes stock and feeds the daily rollup.",
            },
            {
                "name": "analytics",
                "description": "Revenue, refunds, cost, profit and units by period, category "
                "and product, with period comparisons; `Accept: text/csv` for CSV.",
            },
        ],
        **overrides,
    )


app = build_app()
