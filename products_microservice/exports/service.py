"""What the products service exports: the catalog in the import's columns, and the ledger.

Each export is a statement with the matching list's filters and a row shape; the writing is
`common.exports`. Rows are read in keyset batches on the primary key (`keyset_batches`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.exports.files import Row
from common.exports.http import keyset_batches
from common.imports.reader import COLUMNS as IMPORT_COLUMNS
from common.models.catalog import Category, Product
from common.models.inventory import InventoryMovement
from products_microservice.catalog.service import ProductFilter
from products_microservice.inventory.filters import LedgerFilter

# Exactly the import's columns, so a downloaded catalog can be edited and uploaded back.
PRODUCT_COLUMNS = IMPORT_COLUMNS
MOVEMENT_COLUMNS = (
    "id",
    "created_at",
    "product_id",
    "sku",
    "category_id",
    "kind",
    "delta",
    "quantity_after",
    "reference",
    "actor",
    "note",
)


def _products(filters: ProductFilter) -> Select[Any]:
    category = select(Category.name).where(Category.id == Product.category_id).scalar_subquery()
    return select(
        Product.id,
        Product.sku,
        Product.name,
        Product.description,
        category.label("category"),
        Product.price,
        Product.cost_price,
        Product.low_stock_threshold,
        Product.stock_on_hand,
    ).where(*filters.conditions())


def _product_row(row: Any) -> Row:
    return (
        row.sku,
        row.name,
        row.description,
        row.category,
        row.price,
        row.cost_price,
        row.low_stock_threshold,
        row.stock_on_hand,
    )


def product_batches(
    session_factory: async_sessionmaker[AsyncSession], filters: ProductFilter
) -> AsyncIterator[list[Row]]:
    return keyset_batches(
        session_factory, _products(filters), key=Product.id.expression, to_row=_product_row
    )


def _movements(filters: LedgerFilter) -> Select[Any]:
    """The ledger in id order; each row's product looked up by its key (a join would let the
    database start from `product` and sort the whole ledger for the first batch)."""
    movement = InventoryMovement
    product = select(Product.sku, Product.category_id).where(Product.id == movement.product_id)
    return select(
        movement.id,
        movement.created_at,
        movement.product_id,
        product.with_only_columns(Product.sku).scalar_subquery().label("sku"),
        product.with_only_columns(Product.category_id).scalar_subquery().label("category_id"),
        movement.kind,
        movement.delta,
        movement.quantity_after,
        movement.reference,
        movement.actor,
        movement.note,
    ).where(*filters.conditions())


def movement_batches(
    session_factory: async_sessionmaker[AsyncSession], filters: LedgerFilter
) -> AsyncIterator[list[Row]]:
    return keyset_batches(
        session_factory,
        _movements(filters),
        key=InventoryMovement.id.expression,
        to_row=tuple,
    )
