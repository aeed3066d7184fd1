"""Clients generated from the specs work: what a team integrating with the shop would do.

Both services run as deployed (uvicorn, a process each). Each one's `/openapi.json` is fed to
openapi-python-client (the pinned dev dependency, run as a process, offline) into the test's
temporary directory; the generated packages are imported and used end to end: sign in,
create a category and a product, record a sale, read the revenue report, and read a refusal
(409 `insufficient_stock`) as a typed `Problem`, not as `None`.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from common.db import Database
from common.models.identity import Role
from tests.fixtures.databases import migrated_backend
from tests.fixtures.factories import PASSWORD, make_account
from tests.fixtures.processes import PRODUCTS_APP, SALES_APP, ServiceProcess, running

SERVICES = {"products": PRODUCTS_APP, "sales": SALES_APP}
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@dataclass
class Stack:
    urls: dict[str, str]
    admin_email: str


@pytest.fixture(scope="module")
async def stack(
    backend_name: str, fresh_database_url: Callable[[str], object]
) -> AsyncIterator[Stack]:
    """Both services on one migrated database of their own, with an admin who has a password."""
    backend = await migrated_backend(fresh_database_url, backend_name)
    database = Database.from_settings(backend.settings)
    try:
        admin = await make_account(database, backend.settings, role=Role.admin)
    finally:
        await database.dispose()
    processes = {name: ServiceProcess(backend, app) for name, app in SERVICES.items()}
    async with running(*processes.values()):
        yield Stack(urls={name: p.url for name, p in processes.items()}, admin_email=admin.email)


async def generate_client(url: str, package: str, directory: Path) -> None:
    """`openapi-python-client generate` on the served spec, into `directory / package`."""
    async with httpx.AsyncClient(base_url=url) as client:
        spec = (await client.get("/openapi.json")).text
    (directory / f"{package}.json").write_text(spec)
    # No post hooks: the generated code is imported, not committed, so it needs no formatting.
    (directory / f"{package}.yml").write_text(f"package_name_override: {package}\npost_hooks: []\n")
    process = await asyncio.create_subprocess_exec(
        str(GENERATOR), "generate",
        "--path", str(directory / f"{package}.json"),
        "--config", str(directory / f"{package}.yml"),
        "--meta", "none",
        "--output-path", str(directory / package),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    # The generator warns about what it could not model (and then skips or degrades it).
    assert "warning" not in output.decode().lower(), output.decode()


@pytest.fixture(scope="module")
async def clients(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Path]:
    """The two generated packages, importable as `products_client` and `sales_client`."""
    directory = tmp_path_factory.mktemp("generated")
    await asyncio.gather(
        *(generate_client(url, f"{name}_client", directory) for name, url in stack.urls.items())
    )
    sys.path.insert(0, str(directory))
    try:
        yield directory
    finally:
        sys.path.remove(str(directory))
        for name in [
            m for m in sys.modules if m.split(".")[0] in {"products_client", "sales_client"}
        ]:
            del sys.modules[name]


def generated(module: str) -> ModuleType:
    return importlib.import_module(module)


async def sign_in(package: str, url: str, email: str) -> Any:
    """A generated `AuthenticatedClient`, with a token from the generated `issue_token`."""
    client_module = generated(f"{package}.client")
    issue_token = generated(f"{package}.api.auth.issue_token")
    form = generated(f"{package}.models").BodyIssueToken(username=email, password=PASSWORD)
    async with client_module.Client(base_url=url) as anonymous:
        tokens = await issue_token.asyncio(client=anonymous, body=form)
    assert type(tokens).__name__ == "TokenResponse", tokens
    assert tokens.token_type == "bearer"
    return client_module.AuthenticatedClient(base_url=url, token=tokens.access_token)


async def test_generated_clients_sign_in_sell_and_report(stack: Stack, clients: Any) -> None:
    products = generated("products_client.models")
    sales = generated("sales_client.models")
    create_category = generated("products_client.api.categories.create_category")
    create_product = generated("products_client.api.products.create_product")
    get_product = generated("products_client.api.products.get_product")
    create_sale = generated("sales_client.api.sales.create_sale")
    revenue = generated("sales_client.api.analytics.revenue")

    catalog = await sign_in("products_client", stack.urls["products"], stack.admin_email)
    async with catalog:
        category = await create_category.asyncio(
            client=catalog, body=products.CategoryCreate(name="Generated mugs")
        )
        assert isinstance(category, products.CategoryRead), category
        product = await create_product.asyncio(
            client=catalog,
            body=products.ProductCreate(
                sku="GEN-MUG-1",
                name="Generated mug",
                category_id=category.id,
                price="12.50",
                initial_stock=5,
            ),
        )
        assert isinstance(product, products.ProductRead), product
        assert (product.stock_on_hand, product.category.name) == (5, "Generated mugs")

        shop = await sign_in("sales_client", stack.urls["sales"], stack.admin_email)
        async with shop:
            sale = await create_sale.asyncio(
                client=shop, body=sales.SaleCreate(product_id=product.id, quantity=2)
            )
            assert isinstance(sale, sales.SaleRead), sale
            assert (sale.quantity, Decimal(sale.revenue)) == (2, Decimal("25.00"))

            refused = await create_sale.asyncio_detailed(
                client=shop, body=sales.SaleCreate(product_id=product.id, quantity=4)
            )
            problem = refused.parsed
            assert refused.status_code == 409
            assert isinstance(problem, sales.Problem), problem
            assert (problem.code, problem.status) == ("insufficient_stock", 409)
            assert problem.type_ == "urn:ecommerce-manager:problem:insufficient_stock"

            day = sale.business_date  # the store's day of the sale
            report = await revenue.asyncio(client=shop, start=day, end=day)
            assert isinstance(report, sales.RevenueReport), report
            assert Decimal(report.totals.net_revenue) == Decimal("25.00")
            assert report.totals.units == 2

        after = await get_product.asyncio(client=catalog, product_id=product.id)
        assert isinstance(after, products.ProductRead), after
        assert after.stock_on_hand == 3  # the sale moved stock; the refusal moved none


async def test_a_generated_client_reads_a_missing_token_as_a_problem(
    stack: Stack, clients: Any
) -> None:
    """Without a token: a typed 401 problem with its stable code."""
    client_module = generated("products_client.client")
    create_category = generated("products_client.api.categories.create_category")
    models = generated("products_client.models")
    async with client_module.Client(base_url=stack.urls["products"]) as anonymous:
        response = await create_category.asyncio_detailed(
            client=anonymous, body=models.CategoryCreate(name="Nobody's")
        )
    assert response.status_code == 401
    assert isinstance(response.parsed, models.Problem)
    assert response.parsed.code == "unauthenticated"
