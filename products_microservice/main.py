"""The products service: `uvicorn products_microservice.main:app --port 8000`."""

from typing import Any

from fastapi import FastAPI

from common.web import create_app
from common.web.auth import AUTH_TAG
from common.web.auth import router as auth_router

DESCRIPTION = """
Catalog, categories and the inventory ledger of the e-commerce manager.

Stock is a time series of movements, so every level can be explained: what we had, when, and
why it changed. Errors are `application/problem+json` with a stable `code`.
"""


def build_app(**overrides: Any) -> FastAPI:
    """The service; tests pass `settings=` and `database=` overrides."""
    return create_app(
        title="E-commerce Manager - Products",
        description=DESCRIPTION,
        root_routers=[auth_router],
        tags=[AUTH_TAG],
        **overrides,
    )


app = build_app()
