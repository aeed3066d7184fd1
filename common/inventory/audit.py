"""Auditing the stock ledger: cached levels against the sum of movements, and the chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.models.catalog import Product
from common.models.inventory import InventoryMovement


@dataclass(frozen=True)
class LedgerProblem:
    product_id: int
    sku: str
    problem: Literal["cached_level_mismatch", "broken_chain"]
    detail: str
    movement_id: int | None = None


def _ledger_sums() -> Select[Any]:
    sums = (
        select(
            InventoryMovement.product_id,
            func.sum(InventoryMovement.delta).label("ledger_total"),
        )
        .group_by(InventoryMovement.product_id)
        .subquery()
    )
    ledger_total = func.coalesce(sums.c.ledger_total, 0)
    return (
        select(Product.id, Product.sku, Product.stock_on_hand, ledger_total.label("ledger_total"))
        .outerjoin(sums, sums.c.product_id == Product.id)
        .where(Product.stock_on_hand != ledger_total)
        .order_by(Product.id)
    )


def _chain_breaks() -> Select[Any]:
    previous = (
        func.lag(InventoryMovement.quantity_after)
        .over(partition_by=InventoryMovement.product_id, order_by=InventoryMovement.id)
        .label("previous_after")
    )
    chain = select(
        InventoryMovement.id,
        InventoryMovement.product_id,
        InventoryMovement.delta,
        InventoryMovement.quantity_after,
        previous,
    ).subquery()
    expected = func.coalesce(chain.c.previous_after, 0) + chain.c.delta
    return (
        select(chain, Product.sku)
        .join(Product, Product.id == chain.c.product_id)
        .where(chain.c.quantity_after != expected)
        .order_by(chain.c.product_id, chain.c.id)
    )


async def reconcile(session: AsyncSession) -> list[LedgerProblem]:
    """Every product whose cached level differs from the sum of its movements, and every
    movement whose `quantity_after` is not the previous one plus its delta. Empty = sound."""
    problems = [
        LedgerProblem(
            product_id=row.id,
            sku=row.sku,
            problem="cached_level_mismatch",
            detail=f"stock_on_hand is {row.stock_on_hand}, the ledger sums to {row.ledger_total}",
        )
        for row in (await session.execute(_ledger_sums())).all()
    ]
    problems += [
        LedgerProblem(
            product_id=row.product_id,
            sku=row.sku,
            problem="broken_chain",
            detail=(
                f"quantity_after is {row.quantity_after}, expected "
                f"{(row.previous_after or 0) + row.delta}"
            ),
            movement_id=row.id,
        )
        for row in (await session.execute(_chain_breaks())).all()
    ]
    return problems
