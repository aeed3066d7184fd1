"""Every route of both services declares who may call it, in its own signature.

Access is one named dependency parameter per route (`Public`, `OptionalUser`, `CurrentUser`,
`SelfOrAdmin`, `AdminUser`), never a router-level or `dependencies=[...]` guard: the guard is
then visible where the route is read, and a route added without one fails here.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from common.config import Settings
from common.identity import access
from common.identity.access import AdminUser
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.databases import TEST_JWT_SECRET

ACCESS_DEPENDENCIES: dict[Callable[..., Any], str] = {
    access.public: "Public",
    access.get_optional_user: "OptionalUser",
    access.get_current_user: "CurrentUser",
    access.get_self_or_admin: "SelfOrAdmin",
    access.get_admin_user: "AdminUser",
}

# Plumbing, not product: probes, metrics and the API documents answer anyone, so load
# balancers, Prometheus and browsers reach them without a token. They are served by
# `common.web`, which imports no domain package (identity is one), so they cannot take the
# `Public` marker; they are listed here by path instead, and must exist.
PLUMBING_PATHS = frozenset(
    {
        "/health",
        "/ready",
        "/metrics",
        "/docs",
        "/docs/oauth2-redirect",
        "/docs/static",
        "/docs/redoc.js",
        "/redoc",
        "/openapi.json",
    }
)


def _settings() -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        app_env="test",
        database_url="sqlite+aiosqlite://",
        log_level="WARNING",
        jwt_secret=TEST_JWT_SECRET,
    )


def _access_dependencies(annotations: dict[str, Any]) -> list[str]:
    """The names of the access markers among a signature's `Annotated[..., Depends(...)]`."""
    found = []
    for name, hint in annotations.items():
        for marker in getattr(hint, "__metadata__", ()):
            if isinstance(marker, DependsParam) and marker.dependency in ACCESS_DEPENDENCIES:
                found.append(f"{name}: {ACCESS_DEPENDENCIES[marker.dependency]}")
    return found


def access_problem(route: RouteContext) -> str | None:
    """Why a route's access is not declared by exactly one parameter; `None` when it is.
    `route.dependencies` are the effective ones: the route's and every including router's."""
    guards = [
        dependency
        for dependency in route.dependencies
        if dependency.dependency in ACCESS_DEPENDENCIES
    ]
    if guards:
        return "guarded by a router or `dependencies=[...]` instead of a parameter"
    declared = _access_dependencies(typing.get_type_hints(route.endpoint, include_extras=True))
    if len(declared) != 1:
        return f"declares {len(declared)} access parameters ({', '.join(declared) or 'none'})"
    return None


def problems_of(routes: Sequence[BaseRoute]) -> dict[str, str]:
    """`METHODS path` -> what is wrong with its access, for every route that is not plumbing
    (included routers are walked as FastAPI serves them, with their prefixes)."""
    problems = {}
    for route in iter_route_contexts(routes):
        path = route.path or ""
        if path in PLUMBING_PATHS:
            continue
        where = f"{sorted(route.methods or ())} {path} ({route.name})"
        if not isinstance(route.original_route, APIRoute):
            problems[where] = "not an API route, and not listed as plumbing"
            continue
        problem = access_problem(route)
        if problem is not None:
            problems[where] = problem
    return problems


def _paths(app: FastAPI) -> set[str]:
    return {route.path or "" for route in iter_route_contexts(app.routes)}


APPS = {"products": build_products_app, "sales": build_sales_app}


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_route_declares_exactly_one_access_parameter(service: str) -> None:
    app = APPS[service](settings=_settings())
    assert problems_of(app.routes) == {}


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_listed_plumbing_path_exists(service: str) -> None:
    app = APPS[service](settings=_settings())
    assert PLUMBING_PATHS - _paths(app) == set()


@pytest.mark.parametrize("service", sorted(APPS))
def test_the_walk_sees_the_domain_routes(service: str) -> None:
    """Guards the walk itself: were included routers skipped, the check would pass vacuously."""
    app = APPS[service](settings=_settings())
    assert {"/auth/token", "/auth/me"} <= _paths(app)
    assert len([path for path in _paths(app) if path.startswith("/api/v1/")]) >= 10


async def _unguarded() -> None:
    """A route that forgot its access."""


async def _twice(first: AdminUser, second: AdminUser) -> None:
    """A route that declares access twice."""


async def _guarded(admin: AdminUser) -> None:
    """A route that declares its access."""


def test_the_check_refuses_missing_doubled_and_router_level_access() -> None:
    router = APIRouter(prefix="/examples")
    router.add_api_route("/unguarded", _unguarded)
    router.add_api_route("/twice", _twice)
    router.add_api_route("/guarded", _guarded)
    guarded_router = APIRouter(dependencies=[Depends(access.get_admin_user)])
    guarded_router.add_api_route("/by-router", _unguarded)
    router.include_router(guarded_router)
    assert problems_of(router.routes) == {
        "['GET'] /examples/unguarded (_unguarded)": "declares 0 access parameters (none)",
        "['GET'] /examples/twice (_twice)": (
            "declares 2 access parameters (first: AdminUser, second: AdminUser)"
        ),
        "['GET'] /examples/by-router (_unguarded)": (
            "guarded by a router or `dependencies=[...]` instead of a parameter"
        ),
    }
