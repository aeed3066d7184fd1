"""The sales service: `uvicorn sales_microservice.main:app --port 8001`."""

from typing import Any

from fastapi import FastAPI

from common.web import create_app

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
        tags=[],
        **overrides,
    )


app = build_app()
