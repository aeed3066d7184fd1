"""The products service: `uvicorn products_microservice.main:app --port 8000`."""

from typing import Any

from fastapi import FastAPI

from common.events.dispatcher import DISPATCHER_METRICS, run_dispatcher
from common.identity.router import AUTH_TAG
from common.identity.router import router as auth_router
from common.web import API_PREFIX, create_app
from products_microservice.catalog import router as catalog
from products_microservice.exports import router as exports
from products_microservice.imports import router as imports
from products_microservice.inventory import router as inventory
from products_microservice.reservations import router as reservations
from products_microservice.reviews import router as reviews

DESCRIPTION = """
Catalog, categories and the inventory ledger of the e-commerce manager.

Stock is a time series of movements, so every level can be explained: what we had, when, and
why it changed. Catalog reads are public; everything else needs an admin token
(`POST /auth/token`). Errors are `application/problem+json` with a stable `code`.
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
        "low stock and valuation. Admins only.",
    },
    {
        "name": "reviews",
        "description": "Customer reviews, published after moderation; ratings count approved "
        "reviews only.",
    },
    {
        "name": "reservations",
        "description": "Stock held for a while (all products or none); confirming sells it, "
        "releasing or expiry gives it back. Admins only.",
    },
    {
        "name": "exports",
        "description": "The catalog and the stock ledger as streamed CSV or XLSX files. "
        "Admins only.",
    },
    AUTH_TAG,
]


def build_app(**overrides: Any) -> FastAPI:
    """The service; tests pass `settings=` and `database=` overrides."""
    return create_app(
        service="products",
        title="E-commerce Manager - Products",
        description=DESCRIPTION,
        # Each router declares its prefix, tags and, on every route, who may call it.
        routers=[
            catalog.categories_router,
            catalog.products_router,
            imports.router,
            inventory.product_inventory_router,
            inventory.inventory_router,
            reservations.router,
            reviews.product_reviews_router,
            reviews.reviews_router,
            reviews.customer_reviews_router,
            exports.router,
        ],
        root_routers=[auth_router],
        tags=TAGS,
        own_body_limit_paths=[f"{API_PREFIX}/products/import"],
        # Every replica of both services dispatches events (docs/events.md).
        background_tasks=[run_dispatcher],
        collectors=[*DISPATCHER_METRICS],
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
