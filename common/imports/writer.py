"""Writing an import's validated rows in batches: categories, product inserts and updates, stock.

- Rows are written in batches (one bulk read of the batch's SKUs and categories, one
  multi-row INSERT, bulk UPDATEs, the stock as below).
- Every stock level is explained by `import` ledger movements. A new product is inserted
  at its level, and its opening movement (from 0 to that level) follows in one INSERT ...
  SELECT for the batch (`open_levels`): no other transaction can see the new row, so there
  is nothing to lock or guard. An existing product's level is set by `set_levels` (row locks,
  guarded UPDATE), and only when it differs. A `stock` of 0 or none writes no movement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.catalog.naming import unique_slug
from common.catalog.schemas import (
    DEFAULT_LOW_STOCK_THRESHOLD,
)
from common.db.dialect import violates_unique
from common.db.transaction import flush_unique
from common.db.types import utcnow
from common.imports.errors import ImportConflict
from common.imports.reader import Cells, Header, ImportRow
from common.imports.report import FailedRow, RowError
from common.inventory.ledger import open_levels, set_levels
from common.models.catalog import Category, Product, ProductStatus
from common.models.inventory import MovementKind

LEDGER_REFERENCE = "import"
# Core, on the table itself (the ORM's bulk path costs per row), and built once. Its VALUES
# must hold only placeholders: then the driver sends one multi-row INSERT, else one per row.
_INSERT_PRODUCTS = insert(cast(Table, Product.__table__))


@dataclass
class PendingRow:
    line: int
    cells: Cells
    row: ImportRow
    category_key: str  # name_key(row.category)


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    categories_created: int = 0
    stock_movements: int = 0
    failed: int = 0  # every failed row
    errors_total: int = 0  # every row error
    # The failed rows kept for the report: as many as hold the first `max_reported_errors`.
    failed_rows: list[FailedRow] = field(default_factory=list)
    errors_kept: int = 0


_COMPARED = ("name", "description", "category_id", "price", "cost_price", "low_stock_threshold")
# Built once, like every statement run per batch: the batch's products that already exist.
_EXISTING = select(
    Product.id, Product.sku, Product.stock_on_hand, *(getattr(Product, c) for c in _COMPARED)
).where(Product.sku.in_(bindparam("skus", expanding=True)))


class _LedgerEntry(TypedDict):
    """What every `import` movement says about itself."""

    kind: MovementKind
    reference: str
    actor: str | None
    note: str


class Writer:
    def __init__(
        self,
        session: AsyncSession,
        header: Header,
        *,
        create_categories: bool,
        actor: str | None,
        max_reported_errors: int,
    ) -> None:
        self.session = session
        self.max_reported_errors = max_reported_errors
        self.header = header
        self.create_categories = create_categories
        self.counts = Counts()
        self.categories: dict[str, int] = {}  # name_key -> id; one entry per category named
        self._ledger_entry = _LedgerEntry(
            kind=MovementKind.IMPORT,
            reference=LEDGER_REFERENCE,
            actor=actor,
            note="Stock level from a catalog import",
        )

    def fail(self, line: int, cells: Cells, errors: list[RowError]) -> None:
        """Count a failed row; keep it (and its errors) while the report has room."""
        counts = self.counts
        counts.failed += 1
        counts.errors_total += len(errors)
        room = self.max_reported_errors - counts.errors_kept
        if room > 0:
            kept = errors[:room]
            counts.failed_rows.append(FailedRow(line=line, cells=cells, errors=kept))
            counts.errors_kept += len(kept)

    async def _resolve_categories(self, batch: list[PendingRow]) -> list[PendingRow]:
        wanted = {item.category_key: item.row.category for item in batch}
        unknown = [key for key in wanted if key not in self.categories]
        if unknown:
            rows = await self.session.execute(
                select(Category.name_key, Category.id).where(Category.name_key.in_(unknown))
            )
            self.categories.update(rows.tuples().all())
        if self.create_categories:
            for key, name in wanted.items():
                if key not in self.categories:
                    self.categories[key] = await self._create_category(name, key)
        resolved = []
        for item in batch:
            if item.category_key in self.categories:
                resolved.append(item)
            else:
                reason = (
                    f"No category named {item.row.category!r}; create it first, or import "
                    "with create_categories=true."
                )
                error = RowError(line=item.line, column="category", reason=reason)
                self.fail(item.line, item.cells, [error])
        return resolved

    async def _create_category(self, name: str, key: str) -> int:
        category = Category(
            name=name, name_key=key, slug=await unique_slug(self.session, name, category_id=None)
        )
        self.session.add(category)

        def taken() -> ImportConflict:
            return ImportConflict(f"The category {name!r} was created meanwhile; retry.")

        await flush_unique(self.session, "category", {"name_key": taken, "slug": taken})
        self.counts.categories_created += 1
        return category.id

    def _fields(self, item: PendingRow) -> dict[str, Any]:
        """The values this row sets: absent optional columns leave a product as it is."""
        row = item.row
        values: dict[str, Any] = {
            "name": row.name,
            "category_id": self.categories[item.category_key],
            "price": row.price,
        }
        present = self.header.positions
        if "description" in present:
            values["description"] = row.description
        if "cost_price" in present:
            values["cost_price"] = row.cost_price
        if row.low_stock_threshold is not None:
            values["low_stock_threshold"] = row.low_stock_threshold
        return values

    async def write(self, batch: list[PendingRow]) -> None:
        batch = await self._resolve_categories(batch)
        if not batch:
            return
        existing = {
            row.sku: row
            for row in (
                await self.session.execute(_EXISTING, {"skus": [item.row.sku for item in batch]})
            ).all()
        }
        now = utcnow()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        levels: dict[int, int] = {}
        opened: list[str] = []  # SKUs of new products with stock
        for item in batch:
            values = self._fields(item)
            current = existing.get(item.row.sku)
            if current is None:
                # Created at its level; its opening movement follows the INSERT.
                inserts.append(_new_product(item.row.sku, values, item.row.stock or 0, now))
                if item.row.stock:
                    opened.append(item.row.sku)
                self.counts.created += 1
                continue
            changed = {k: v for k, v in values.items() if getattr(current, k) != v}
            stock = item.row.stock
            restocked = stock is not None and stock != current.stock_on_hand
            if changed:
                updates.append({"id": current.id, **changed, "updated_at": now})
            if stock is not None and restocked:
                levels[current.id] = stock
            if changed or restocked:
                self.counts.updated += 1
            else:
                self.counts.unchanged += 1
        if inserts:
            await self._insert(inserts)
            self.counts.stock_movements += await open_levels(
                self.session, opened, **self._ledger_entry
            )
        if updates:
            # ORM bulk UPDATE by primary key: rows setting the same columns share one statement.
            await self.session.execute(update(Product), updates)
        # Products that existed before this batch move through the locked, guarded path.
        self.counts.stock_movements += await set_levels(self.session, levels, **self._ledger_entry)

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        try:
            # Core, not the ORM's bulk INSERT: plain rows, nothing to track in the session.
            await self.session.execute(_INSERT_PRODUCTS, rows)
        except IntegrityError as error:
            if violates_unique(error, "product", "sku"):
                raise ImportConflict(
                    "A product with one of these SKUs was created meanwhile; retry the import."
                ) from error
            raise


def _new_product(sku: str, values: dict[str, Any], stock: int, now: datetime) -> dict[str, Any]:
    return {
        "sku": sku,
        "description": None,
        "cost_price": None,
        "low_stock_threshold": DEFAULT_LOW_STOCK_THRESHOLD,
        **values,
        "status": ProductStatus.ACTIVE.value,
        "stock_on_hand": stock,
        "created_at": now,
        "updated_at": now,
    }
