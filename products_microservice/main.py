"""The products service: `uvicorn products_microservice.main:app --port 8000`."""

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, params

from common.web import create_app
from products_microservice.catalog import router as catalog
from products_microservice.inventory import router as inventory

DESCRIPTION = """
Catalog, categories and the inventory ledger of the e-commerce manager.

Stock is a time series of movements, so every level can be explained: what we had, when, and
why it changed. Errors are `application/problem+json` with a stable `code`.
"""

TAGS = [
    {"name": "categories", "description": "Product categories: unique names, derived slugs."},
    {
        "name": "products",
        "description": "The catalog. Deleting archives: history and sales keep their product.",
    },
    {
        "name": "inventory",
        "description": "The stock ledger: adjustments, movements, levels over time, "
        "low stock and valuation.",
    },
]


def build_writes(dependencies: Sequence[params.Depends] = ()) -> APIRouter:
    """Every route that changes data, behind one router: guarding all writes (the admin role)
    is one dependency here."""
    writes = APIRouter(dependencies=list(dependencies))
    writes.include_router(catalog.admin_router)
    writes.include_router(inventory.admin_router)
    return writes


def build_app(*, write_dependencies: Sequence[params.Depends] = (), **overrides: Any) -> FastAPI:
    """The service; tests pass `settings=` and `database=` overrides. `write_dependencies`
    run before every route that changes data."""
    return create_app(
        title="E-commerce Manager - Products",
        description=DESCRIPTION,
        routers=[catalog.router, inventory.router, build_writes(write_dependencies)],
        tags=TAGS,
        **overrides,
    )


app = build_app()
