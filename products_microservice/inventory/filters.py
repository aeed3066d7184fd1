"""The store-wide ledger's filters: one dataclass and one query dependency, shared by the
ledger's list (`GET /inventory/movements`) and its export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, select

from common.errors import InvalidInput
from common.models.catalog import Product
from common.models.inventory import InventoryMovement, MovementKind
from common.schemas.fields import Id, Instant


@dataclass(frozen=True)
class LedgerFilter:
    """The store-wide ledger's filters (the list and the export share them)."""

    kind: MovementKind | None = None
    product_id: int | None = None
    category_id: int | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # inclusive

    def conditions(self) -> list[ColumnElement[bool]]:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise InvalidInput("`end` must not be before `start`.")
        movement = InventoryMovement
        conditions: list[ColumnElement[bool]] = []
        if self.kind is not None:
            conditions.append(movement.kind == self.kind.value)
        if self.product_id is not None:
            conditions.append(movement.product_id == self.product_id)
        if self.category_id is not None:
            # The product's category now (a movement does not record one).
            in_category = select(Product.id).where(Product.category_id == self.category_id)
            conditions.append(movement.product_id.in_(in_category))
        if self.start is not None:
            conditions.append(movement.created_at >= self.start)
        if self.end is not None:
            conditions.append(movement.created_at <= self.end)
        return conditions


async def ledger_filter(
    kind: Annotated[MovementKind | None, Query()] = None,
    product_id: Annotated[Id | None, Query()] = None,
    category_id: Annotated[Id | None, Query(description="The product's category now")] = None,
    start: Annotated[Instant | None, Query(description="Inclusive")] = None,
    end: Annotated[Instant | None, Query(description="Inclusive")] = None,
) -> LedgerFilter:
    return LedgerFilter(
        kind=kind, product_id=product_id, category_id=category_id, start=start, end=end
    )


LedgerFilterDep = Annotated[LedgerFilter, Depends(ledger_filter)]
