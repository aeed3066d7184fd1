"""Categories and products: the rules and the SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from common.catalog.naming import name_key, unique_slug
from common.db.pagination import paginate
from common.db.transaction import flush_unique
from common.errors import Conflict, InvalidInput, NotFound
from common.events.outbox import emit, entity
from common.events.types import EventType
from common.inventory.availability import (
    StockStatus,
    available_quantity,
    stock_status_expression,
    with_reserved,
)
from common.inventory.errors import ProductNotFound
from common.inventory.ledger import record_movement
from common.models.catalog import Category, Product, ProductStatus
from common.models.inventory import MovementKind
from common.schemas import Page, PageParams
from products_microservice.catalog.schemas import (
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    ProductCreate,
    ProductRead,
    ProductSort,
    ProductUpdate,
)


class CategoryNotFound(NotFound):
    code = "category_not_found"
    title = "Category not found"


class CategoryExists(Conflict):
    code = "category_exists"
    title = "A category with this name exists"


class CategoryNotEmpty(Conflict):
    code = "category_not_empty"
    title = "The category still has products"


class UnknownCategory(InvalidInput):
    code = "unknown_category"
    title = "Unknown category"

    def __init__(self, category_id: int) -> None:
        super().__init__(
            f"No category with id {category_id}.",
            errors=[
                {
                    "in": "body",
                    "pointer": "#/category_id",
                    "detail": f"No category with id {category_id}",
                    "type": "unknown_category",
                }
            ],
        )


class SkuExists(Conflict):
    code = "sku_exists"
    title = "A product with this SKU exists"


# --- categories ------------------------------------------------------------------------------


async def _ensure_name_free(
    session: AsyncSession, name: str, *, category_id: int | None = None
) -> str:
    key = name_key(name)
    clash = await session.scalar(
        select(Category.name).where(Category.name_key == key, Category.id != (category_id or 0))
    )
    if clash is not None:
        raise CategoryExists(f"The category {clash!r} already exists.", name=clash)
    return key


async def _flush_category(session: AsyncSession, name: str) -> None:
    def exists() -> CategoryExists:
        return CategoryExists(f"The category {name!r} already exists.", name=name)

    def slug_taken() -> Conflict:
        # Another name with the same slug committed meanwhile; a retry derives the next one.
        return Conflict("A category with the same slug was just created; retry.")

    await flush_unique(session, "category", {"name_key": exists, "slug": slug_taken})


def _category_listing() -> Select[Any]:
    """Categories with their active and archived product counts, aggregated in SQL."""
    active = Product.status == ProductStatus.ACTIVE.value
    counts = (
        select(
            Product.category_id,
            func.count(case((active, 1))).label("active"),
            func.count(case((~active, 1))).label("archived"),
        )
        .group_by(Product.category_id)
        .subquery()
    )
    return select(
        Category.id,
        Category.name,
        Category.slug,
        Category.description,
        Category.created_at,
        Category.updated_at,
        func.coalesce(counts.c.active, 0).label("product_count"),
        func.coalesce(counts.c.archived, 0).label("archived_product_count"),
    ).outerjoin(counts, counts.c.category_id == Category.id)


async def list_categories(session: AsyncSession, page: PageParams) -> Page[CategoryRead]:
    statement = _category_listing().order_by(Category.name, Category.id)
    return await paginate(session, statement, page, schema=CategoryRead)


async def get_category(session: AsyncSession, category_id: int) -> CategoryRead:
    row = (
        (await session.execute(_category_listing().where(Category.id == category_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise CategoryNotFound(f"No category with id {category_id}.")
    return CategoryRead.model_validate(row)


async def _load_category(session: AsyncSession, category_id: int) -> Category:
    category = await session.get(Category, category_id)
    if category is None:
        raise CategoryNotFound(f"No category with id {category_id}.")
    return category


async def create_category(session: AsyncSession, payload: CategoryCreate) -> CategoryRead:
    category = Category(
        name=payload.name,
        name_key=await _ensure_name_free(session, payload.name),
        slug=await unique_slug(session, payload.name, category_id=None),
        description=payload.description,
    )
    session.add(category)
    await _flush_category(session, payload.name)
    return await get_category(session, category.id)


async def update_category(
    session: AsyncSession, category_id: int, payload: CategoryUpdate
) -> CategoryRead:
    category = await _load_category(session, category_id)
    changes = payload.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] != category.name:
        category.name_key = await _ensure_name_free(
            session, changes["name"], category_id=category_id
        )
        # The slug follows the name: it is derived, and a stale slug would mislead.
        category.slug = await unique_slug(session, changes["name"], category_id=category_id)
    for field, value in changes.items():
        setattr(category, field, value)
    await _flush_category(session, category.name)
    return await get_category(session, category_id)


async def delete_category(session: AsyncSession, category_id: int) -> None:
    category = await _load_category(session, category_id)
    filed = await session.scalar(
        select(func.count()).select_from(Product).where(Product.category_id == category_id)
    )
    if filed:
        raise CategoryNotEmpty(
            f"{filed} products (archived ones included) are filed under this category; "
            "move them first.",
            product_count=filed,
        )
    await session.delete(category)
    await session.flush()


# --- products --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductFilter:
    category_id: int | None = None
    status: ProductStatus = ProductStatus.ACTIVE
    q: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    stock_status: StockStatus | None = None

    def conditions(self, level: ColumnElement[int] | None = None) -> list[ColumnElement[bool]]:
        """WHERE conditions; `level` replaces the available quantity (as-of listings)."""
        conditions: list[ColumnElement[bool]] = [Product.status == self.status.value]
        if self.category_id is not None:
            conditions.append(Product.category_id == self.category_id)
        if self.q:
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", self.q) + "%"
            conditions.append(
                or_(
                    Product.name.ilike(pattern, escape="\\"),
                    Product.sku.ilike(pattern, escape="\\"),
                    Product.description.ilike(pattern, escape="\\"),
                )
            )
        if self.min_price is not None:
            conditions.append(Product.price >= self.min_price)
        if self.max_price is not None:
            conditions.append(Product.price <= self.max_price)
        if self.stock_status is not None:
            available = available_quantity() if level is None else level
            conditions.append(stock_status_expression(available) == self.stock_status.value)
        return conditions


_SORT_COLUMNS: dict[str, Any] = {
    "name": Product.name,
    "price": Product.price,
    "created_at": Product.created_at,
    "stock": Product.stock_on_hand,
}


@cache
def _product_select() -> Select[tuple[Product]]:
    """Built once: statements are immutable, and building the loader options costs more than
    a primary-key read takes. (The reservations' "now" is a bind evaluated per execution.)"""
    return select(Product).options(joinedload(Product.category), with_reserved())


async def list_products(
    session: AsyncSession, filters: ProductFilter, sort: ProductSort, page: PageParams
) -> Page[ProductRead]:
    column = _SORT_COLUMNS[sort.removeprefix("-")]
    descending = sort.startswith("-")
    statement = (
        _product_select()
        .where(*filters.conditions())
        # The id tie-break keeps pages stable when many rows share a sort value.
        .order_by(column.desc() if descending else column.asc(), Product.id)
    )
    return await paginate(session, statement, page, schema=ProductRead)


@cache
def _product_by_id() -> Select[tuple[Product]]:
    """The whole statement built once with the id as a parameter: SQLAlchemy then works out
    its cache key once too, which for a statement with these loader options cost a third of
    a product read."""
    return (
        _product_select()
        .where(Product.id == bindparam("product_id", type_=Integer()))
        # Refresh an instance already in the session: `reserved` is loaded per query.
        .execution_options(populate_existing=True)
    )


async def get_product(session: AsyncSession, product_id: int) -> Product:
    product = await session.scalar(_product_by_id(), {"product_id": product_id})
    if product is None:
        raise ProductNotFound(f"No product with id {product_id}.")
    return product


async def _ensure_category(session: AsyncSession, category_id: int) -> None:
    if await session.get(Category, category_id) is None:
        raise UnknownCategory(category_id)


def _sku_taken(sku: str) -> SkuExists:
    return SkuExists(f"SKU {sku} is taken.", sku=sku)


async def _flush_product(session: AsyncSession, sku: str) -> None:
    await flush_unique(session, "product", {"sku": lambda: _sku_taken(sku)})


async def _ensure_sku_free(
    session: AsyncSession, sku: str, *, product_id: int | None = None
) -> None:
    clash = await session.scalar(
        select(Product.id).where(Product.sku == sku, Product.id != (product_id or 0))
    )
    if clash is not None:
        raise _sku_taken(sku)


async def create_product(
    session: AsyncSession, payload: ProductCreate, *, actor: str | None = None
) -> Product:
    await _ensure_category(session, payload.category_id)
    await _ensure_sku_free(session, payload.sku)
    product = Product(
        **payload.model_dump(exclude={"initial_stock"}), status=ProductStatus.ACTIVE.value
    )
    session.add(product)
    await _flush_product(session, product.sku)
    if payload.initial_stock:
        # The opening stock is the first line of the ledger, like any other change.
        await record_movement(
            session,
            product_id=product.id,
            kind=MovementKind.INITIAL,
            delta=payload.initial_stock,
            actor=actor,
            note="Opening stock",
        )
    created = await get_product(session, product.id)
    emit(session, EventType.PRODUCT_CREATED, entity(created))
    return created


async def update_product(session: AsyncSession, product_id: int, payload: ProductUpdate) -> Product:
    product = await get_product(session, product_id)
    changes = payload.model_dump(exclude_unset=True)
    if "category_id" in changes and changes["category_id"] != product.category_id:
        await _ensure_category(session, changes["category_id"])
    if "sku" in changes and changes["sku"] != product.sku:
        await _ensure_sku_free(session, changes["sku"], product_id=product_id)
    before = entity(product)
    for field, value in changes.items():
        setattr(product, field, value.value if field == "status" else value)
    await _flush_product(session, product.sku)
    updated = await get_product(session, product_id)
    after = entity(updated)
    changed = {
        name: [before.get(name), after[name]]
        for name in changes
        if name in after and before.get(name) != after[name]
    }
    if changed:
        archived = changed.get("status", [None, None])[1] == ProductStatus.ARCHIVED.value
        emit(
            session,
            EventType.PRODUCT_ARCHIVED if archived else EventType.PRODUCT_UPDATED,
            after,
            changes=changed,
        )
    return updated


async def archive_product(session: AsyncSession, product_id: int) -> None:
    """Archive (never delete: the ledger and sales keep referring to it). Idempotent."""
    product = await get_product(session, product_id)
    if product.status != ProductStatus.ARCHIVED.value:
        before = product.status
        product.status = ProductStatus.ARCHIVED.value
        await session.flush()
        emit(
            session,
            EventType.PRODUCT_ARCHIVED,
            entity(product),
            changes={"status": [before, product.status]},
        )
