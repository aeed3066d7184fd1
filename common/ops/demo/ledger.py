"""The demo store's stock movements and sale rows, as `common.sales.service` books them.

The stock ledger has the initial stock, restocks, one `sale` movement per sale and `return`s
for refunds; `reconcile` agrees with it, and so does a rollup rebuild with the sales.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from common.models.inventory import InventoryMovement, MovementKind
from common.models.sales import Sale, SaleKind
from common.ops.demo.state import DemoProduct, DemoStore, PendingRefund
from common.ops.demo.writer import table_of
from common.sales.service import business_date

ACTOR = "demo"


async def move(
    store: DemoStore,
    product: DemoProduct,
    kind: MovementKind,
    delta: int,
    at: datetime,
    reference: str = "",
) -> None:
    product.level += delta
    store.summary.movements += 1
    await store.writer.add(
        table_of(InventoryMovement),
        {
            "id": next(store.movement_ids),
            "product_id": product.id,
            "kind": kind.value,
            "delta": delta,
            "quantity_after": product.level,
            "reference": reference or None,
            "actor": ACTOR,
            "note": None,
            "created_at": at,
        },
    )


async def book_sale(
    store: DemoStore,
    product: DemoProduct,
    quantity: int,
    unit_price: Decimal,
    moment: datetime,
    order_id: int | None = None,
) -> int:
    if product.level < quantity:
        # An express delivery: the ledger never goes below zero.
        await move(
            store,
            product,
            MovementKind.RESTOCK,
            product.order_up_to,
            moment,
            "demo express delivery",
        )
    sale_id = next(store.sale_ids)
    await move(
        store,
        product,
        MovementKind.SALE,
        -quantity,
        moment,
        _sale_reference("sale", sale_id, order_id),
    )
    await _add_sale(
        store,
        sale_id,
        SaleKind.sale,
        product,
        quantity=quantity,
        unit_price=unit_price,
        unit_cost=product.cost,
        moment=moment,
        order_id=order_id,
    )
    store.summary.sales += 1
    store.summary.units_sold += quantity
    store.summary.revenue += unit_price * quantity
    return sale_id


async def book_refund(store: DemoStore, refund: PendingRefund, moment: datetime) -> None:
    refund_id = next(store.sale_ids)
    await move(
        store,
        refund.product,
        MovementKind.RETURN,
        refund.quantity,
        moment,
        _sale_reference("refund", refund_id, refund.order_id),
    )
    await _add_sale(
        store,
        refund_id,
        SaleKind.refund,
        refund.product,
        quantity=-refund.quantity,
        unit_price=refund.unit_price,
        unit_cost=refund.unit_cost,
        moment=moment,
        refund_of_id=refund.sale_id,
        order_id=refund.order_id,
    )
    store.summary.refunds += 1
    store.summary.units_refunded += refund.quantity
    store.summary.refunded += refund.unit_price * refund.quantity


async def _add_sale(
    store: DemoStore,
    sale_id: int,
    kind: SaleKind,
    product: DemoProduct,
    *,
    quantity: int,
    unit_price: Decimal,
    unit_cost: Decimal,
    moment: datetime,
    refund_of_id: int | None = None,
    order_id: int | None = None,
) -> None:
    await store.writer.add(
        table_of(Sale),
        {
            "id": sale_id,
            "kind": kind.value,
            "product_id": product.id,
            "category_id": product.category_id,
            "order_id": order_id,
            "refund_of_id": refund_of_id,
            "quantity": quantity,
            "unit_price": unit_price,
            "unit_cost": unit_cost,
            "revenue": unit_price * quantity,
            "cost": unit_cost * quantity,
            "sold_at": moment,
            "business_date": business_date(moment, store.timezone),
            "actor": ACTOR,
            "created_at": moment,
        },
    )


def _sale_reference(kind: str, sale_id: int, order_id: int | None) -> str:
    """What the stock ledger says a sale movement was for (as `common.sales.service` writes it)."""
    return f"{kind}:{sale_id}" + (f" order:{order_id}" if order_id is not None else "")
