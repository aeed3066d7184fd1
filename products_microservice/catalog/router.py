"""HTTP for categories and products. Reads on `router`, writes on `admin_router`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from common.identity.access import AdminUser, OptionalUser, Principal
from common.inventory.availability import StockStatus
from common.models.catalog import ProductStatus
from common.schemas import Page, PageDep
from common.schemas.fields import MAX_ID, Id, MoneyAmount
from common.web import ReadSessionDep, SessionDep, problem_responses
from products_microservice.catalog import service
from products_microservice.catalog.schemas import (
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    ProductCreate,
    ProductRead,
    ProductSort,
    ProductUpdate,
)

router = APIRouter()
admin_router = APIRouter()

CategoryId = Annotated[int, Path(ge=1, le=MAX_ID, description="Category id")]
ProductId = Annotated[int, Path(ge=1, le=MAX_ID, description="Product id")]


# --- categories ------------------------------------------------------------------------------


@router.get(
    "/categories",
    response_model=Page[CategoryRead],
    tags=["categories"],
    summary="List categories with their product counts",
    responses=problem_responses(422),
)
async def list_categories(session: ReadSessionDep, page: PageDep) -> Page[CategoryRead]:
    return await service.list_categories(session, page)


@router.get(
    "/categories/{category_id}",
    response_model=CategoryRead,
    tags=["categories"],
    summary="One category",
    responses=problem_responses(404, 422),
)
async def get_category(session: ReadSessionDep, category_id: CategoryId) -> CategoryRead:
    return await service.get_category(session, category_id)


@admin_router.post(
    "/categories",
    response_model=CategoryRead,
    status_code=status.HTTP_201_CREATED,
    tags=["categories"],
    summary="Create a category (name unique, case-insensitive; slug derived)",
    responses=problem_responses(409, 422),
)
async def create_category(
    session: SessionDep, payload: CategoryCreate, request: Request, response: Response
) -> CategoryRead:
    category = await service.create_category(session, payload)
    response.headers["Location"] = str(request.url_for("get_category", category_id=category.id))
    return category


@admin_router.patch(
    "/categories/{category_id}",
    response_model=CategoryRead,
    tags=["categories"],
    summary="Rename or describe a category",
    responses=problem_responses(404, 409, 422),
)
async def update_category(
    session: SessionDep, category_id: CategoryId, payload: CategoryUpdate
) -> CategoryRead:
    return await service.update_category(session, category_id, payload)


@admin_router.delete(
    "/categories/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["categories"],
    summary="Delete an empty category",
    responses=problem_responses(404, 409, 422),
)
async def delete_category(session: SessionDep, category_id: CategoryId) -> None:
    await service.delete_category(session, category_id)


# --- products --------------------------------------------------------------------------------


def for_viewer(product: ProductRead, viewer: Principal | None) -> ProductRead:
    """Catalog reads are public, but what a product costs the shop is for admins only."""
    if viewer is not None and viewer.is_admin:
        return product
    return product.model_copy(update={"cost_price": None})


@router.get(
    "/products",
    response_model=Page[ProductRead],
    tags=["products"],
    summary="Search and list products (archived ones only with `status=archived`)",
    responses=problem_responses(422),
)
async def list_products(
    session: ReadSessionDep,
    page: PageDep,
    category_id: Annotated[Id | None, Query()] = None,
    product_status: Annotated[ProductStatus, Query(alias="status")] = ProductStatus.ACTIVE,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="In name, SKU, description")
    ] = None,
    min_price: Annotated[MoneyAmount | None, Query(ge=0)] = None,
    max_price: Annotated[MoneyAmount | None, Query(ge=0)] = None,
    stock_status: Annotated[StockStatus | None, Query()] = None,
    sort: Annotated[ProductSort, Query(description="`-` sorts descending")] = "name",
    viewer: OptionalUser = None,
) -> Page[ProductRead]:
    filters = service.ProductFilter(
        category_id=category_id,
        status=product_status,
        q=q,
        min_price=min_price,
        max_price=max_price,
        stock_status=stock_status,
    )
    result = await service.list_products(session, filters, sort, page)
    result.items = [for_viewer(item, viewer) for item in result.items]
    return result


@router.get(
    "/products/{product_id}",
    response_model=ProductRead,
    tags=["products"],
    summary="One product, archived or not",
    responses=problem_responses(404, 422),
)
async def get_product(
    session: ReadSessionDep, product_id: ProductId, viewer: OptionalUser
) -> ProductRead:
    return for_viewer(
        ProductRead.model_validate(await service.get_product(session, product_id)), viewer
    )


@admin_router.post(
    "/products",
    response_model=ProductRead,
    status_code=status.HTTP_201_CREATED,
    tags=["products"],
    summary="Create a product; `initial_stock` becomes its first ledger movement",
    responses=problem_responses(409, 422),
)
async def create_product(
    session: SessionDep,
    payload: ProductCreate,
    admin: AdminUser,
    request: Request,
    response: Response,
) -> ProductRead:
    product = await service.create_product(session, payload, actor=admin.actor)
    response.headers["Location"] = str(request.url_for("get_product", product_id=product.id))
    return ProductRead.model_validate(product)


@admin_router.patch(
    "/products/{product_id}",
    response_model=ProductRead,
    tags=["products"],
    summary="Change any subset of a product's fields (stock moves only through the ledger)",
    responses=problem_responses(404, 409, 422),
)
async def update_product(
    session: SessionDep, product_id: ProductId, payload: ProductUpdate
) -> ProductRead:
    return ProductRead.model_validate(await service.update_product(session, product_id, payload))


@admin_router.delete(
    "/products/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["products"],
    summary="Archive a product (history is kept; archiving twice is harmless)",
    responses=problem_responses(404, 422),
)
async def archive_product(session: SessionDep, product_id: ProductId) -> None:
    await service.archive_product(session, product_id)
