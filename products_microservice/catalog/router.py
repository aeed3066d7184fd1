"""HTTP for categories and products: reads are public, writes are for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from common.catalog.schemas import CategoryId, ProductId
from common.identity.access import AdminUser, OptionalUser, Principal, Public
from common.schemas import Page, PageDep
from common.web import ReadSessionDep, SessionDep, problem_responses
from products_microservice.catalog import service
from products_microservice.catalog.filters import ProductFilterDep
from products_microservice.catalog.schemas import (
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    ProductCreate,
    ProductRead,
    ProductSort,
    ProductUpdate,
)

categories_router = APIRouter(prefix="/categories", tags=["categories"])
products_router = APIRouter(prefix="/products", tags=["products"])


# --- categories ------------------------------------------------------------------------------


@categories_router.get(
    "",
    response_model=Page[CategoryRead],
    summary="List categories with their product counts",
    responses=problem_responses(422),
)
async def list_categories(
    session: ReadSessionDep, page: PageDep, _public: Public
) -> Page[CategoryRead]:
    return await service.list_categories(session, page)


@categories_router.get(
    "/{category_id}",
    response_model=CategoryRead,
    summary="One category",
    responses=problem_responses(404, 422),
)
async def get_category(
    session: SessionDep, category_id: CategoryId, _public: Public
) -> CategoryRead:
    return await service.get_category(session, category_id)


@categories_router.post(
    "",
    response_model=CategoryRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a category (name unique, case-insensitive; slug derived)",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_category(
    session: SessionDep,
    payload: CategoryCreate,
    _admin: AdminUser,
    request: Request,
    response: Response,
) -> CategoryRead:
    """Admins only. A name another category already has, in any case, is 409
    `category_exists`; the answer's `Location` is the new category."""
    category = await service.create_category(session, payload)
    response.headers["Location"] = str(request.url_for("get_category", category_id=category.id))
    return category


@categories_router.patch(
    "/{category_id}",
    response_model=CategoryRead,
    summary="Rename or describe a category",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def update_category(
    session: SessionDep, category_id: CategoryId, payload: CategoryUpdate, _admin: AdminUser
) -> CategoryRead:
    return await service.update_category(session, category_id, payload)


@categories_router.delete(
    "/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    summary="Delete an empty category",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def delete_category(session: SessionDep, category_id: CategoryId, _admin: AdminUser) -> None:
    await service.delete_category(session, category_id)


# --- products --------------------------------------------------------------------------------


def for_viewer(product: ProductRead, viewer: Principal | None) -> ProductRead:
    """Catalog reads are public, but what a product costs the shop and its exact stock are
    for admins only (others see `stock_status`)."""
    if viewer is not None and viewer.is_admin:
        return product
    return product.public_view()


@products_router.get(
    "",
    response_model=Page[ProductRead],
    summary="Search and list products (archived ones only with `status=archived`)",
    responses=problem_responses(422),
)
async def list_products(
    session: ReadSessionDep,
    page: PageDep,
    filters: ProductFilterDep,
    sort: Annotated[ProductSort, Query(description="`-` sorts descending")] = "name",
    viewer: OptionalUser = None,
) -> Page[ProductRead]:
    """Public. Filters combine (AND); `total` counts every match, `items` is one page of
    them. `cost_price` is shown to admins only (null for everyone else)."""
    result = await service.list_products(session, filters, sort, page)
    result.items = [for_viewer(item, viewer) for item in result.items]
    return result


@products_router.get(
    "/{product_id}",
    response_model=ProductRead,
    summary="One product, archived or not",
    responses=problem_responses(404, 422),
)
async def get_product(
    session: SessionDep, product_id: ProductId, viewer: OptionalUser
) -> ProductRead:
    """Public; archived products are still found by id (their history and sales keep them).
    `cost_price` is shown to admins only."""
    return for_viewer(
        ProductRead.model_validate(await service.get_product(session, product_id)), viewer
    )


@products_router.post(
    "",
    response_model=ProductRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a product; `initial_stock` becomes its first ledger movement",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_product(
    session: SessionDep,
    payload: ProductCreate,
    admin: AdminUser,
    request: Request,
    response: Response,
) -> ProductRead:
    """Admins only. The SKU is stored upper-case and must be unique (409 `sku_exists`); the
    category must exist (422 `unknown_category`). A non-zero `initial_stock` is the product's
    first movement in the inventory ledger, so its stock can be explained from day one."""
    product = await service.create_product(session, payload, actor=admin.actor)
    response.headers["Location"] = str(request.url_for("get_product", product_id=product.id))
    return ProductRead.model_validate(product)


@products_router.patch(
    "/{product_id}",
    response_model=ProductRead,
    summary="Change any subset of a product's fields (stock moves only through the ledger)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def update_product(
    session: SessionDep, product_id: ProductId, payload: ProductUpdate, _admin: AdminUser
) -> ProductRead:
    """Admins only. Omitted fields stay as they are; `null` clears `description`,
    `cost_price` and `image_url` and is refused elsewhere. Stock is not a field here: it
    changes through `POST /products/{product_id}/inventory/adjustments`."""
    return ProductRead.model_validate(await service.update_product(session, product_id, payload))


@products_router.delete(
    "/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    summary="Archive a product (history is kept; archiving twice is harmless)",
    responses=problem_responses(401, 403, 404, 422),
)
async def archive_product(session: SessionDep, product_id: ProductId, _admin: AdminUser) -> None:
    await service.archive_product(session, product_id)
