"""What the sales service exports: order lines, customers, sales and wallet entries.

Each export is a statement with the matching list's filters (the same filter code) and a
row shape; the writing is `common.exports`. Rows are read in keyset batches on a primary key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.errors import InvalidInput
from common.exports.files import Row
from common.exports.http import keyset_batches
from common.identity.access import Principal
from common.models.catalog import Product
from common.models.identity import Role, UserAccount, WalletEntry, WalletEntryKind
from common.models.orders import CustomerOrder, OrderItem
from common.models.sales import Sale
from common.orders.status import effective_order_status
from sales_microservice.customers.service import customer_search
from sales_microservice.orders.service import OrderFilter, order_conditions
from sales_microservice.sales.service import list_sales_statement

Batches = AsyncIterator[list[Row]]
SessionFactory = async_sessionmaker[AsyncSession]

# --- orders: one row per line ----------------------------------------------------------------

ORDER_COLUMNS = (
    "order_id",
    "created_at",
    "status",
    "customer_id",
    "customer_email",
    "customer_name",
    "order_total",
    "paid_at",
    "line_id",
    "product_id",
    "sku",
    "quantity",
    "unit_price",
    "line_total",
)


def _order_row(row: Any) -> Row:
    return (
        row.order_id,
        row.created_at,
        effective_order_status(row.status, row.expires_at),
        row.customer_id,
        row.email,
        row.full_name,
        row.total,
        row.paid_at,
        row.id,
        row.product_id,
        row.sku,
        row.quantity,
        row.unit_price,
        row.line_total,
    )


def order_batches(
    session_factory: SessionFactory, filters: OrderFilter, *, actor: Principal
) -> Batches:
    customer = select(UserAccount.email, UserAccount.full_name).where(
        UserAccount.id == CustomerOrder.customer_id
    )
    sku = select(Product.sku).where(Product.id == OrderItem.product_id).scalar_subquery()
    statement = (
        select(
            OrderItem.id,
            OrderItem.order_id,
            CustomerOrder.created_at,
            CustomerOrder.status,
            CustomerOrder.expires_at,
            CustomerOrder.customer_id,
            customer.with_only_columns(UserAccount.email).scalar_subquery().label("email"),
            customer.with_only_columns(UserAccount.full_name).scalar_subquery().label("full_name"),
            CustomerOrder.total,
            CustomerOrder.paid_at,
            OrderItem.product_id,
            sku.label("sku"),
            OrderItem.quantity,
            OrderItem.unit_price,
            OrderItem.line_total,
        )
        # The order is joined for the filters; the customer and product are looked up.
        .join(CustomerOrder, CustomerOrder.id == OrderItem.order_id)
        .where(*order_conditions(filters, actor=actor))
    )
    return keyset_batches(
        session_factory, statement, key=OrderItem.id.expression, to_row=_order_row
    )


# --- customers, with their lifetime figures --------------------------------------------------

CUSTOMER_COLUMNS = (
    "id",
    "email",
    "full_name",
    "phone",
    "role",
    "is_active",
    "wallet_balance",
    "created_at",
    "orders_count",
    "lifetime_spend",
    "last_order_at",
)


def lifetime_figures() -> list[ColumnElement[Any]]:
    """`orders_count`, `lifetime_spend` and `last_order_at`, as the account carries them
    (kept with every order by `common.orders.rollups`)."""
    account = UserAccount
    return [
        account.orders_count.expression,
        account.lifetime_spend.expression,
        account.last_order_at.expression,
    ]


def customer_batches(
    session_factory: SessionFactory, *, q: str | None, role: Role | None, is_active: bool | None
) -> Batches:
    account = UserAccount
    statement = (
        customer_search(q=q, role=role, is_active=is_active)
        .order_by(None)
        .with_only_columns(
            account.id,
            account.email,
            account.full_name,
            account.phone,
            account.role,
            account.is_active,
            account.wallet_balance,
            account.created_at,
            *lifetime_figures(),
        )
    )
    return keyset_batches(session_factory, statement, key=account.id.expression, to_row=tuple)


# --- sales -----------------------------------------------------------------------------------

SALE_COLUMNS = (
    "id",
    "kind",
    "sold_at",
    "business_date",
    "product_id",
    "category_id",
    "order_id",
    "refund_of_id",
    "quantity",
    "unit_price",
    "unit_cost",
    "revenue",
    "cost",
    "actor",
)


def sale_batches(
    session_factory: SessionFactory,
    *,
    product_id: int | None,
    category_id: int | None,
    order_id: int | None,
    start: datetime | None,
    end: datetime | None,
) -> Batches:
    statement = (
        list_sales_statement(
            product_id=product_id,
            category_id=category_id,
            order_id=order_id,
            start=start,
            end=end,
        )
        .order_by(None)
        .with_only_columns(*(getattr(Sale, column) for column in SALE_COLUMNS))
    )
    return keyset_batches(session_factory, statement, key=Sale.id.expression, to_row=tuple)


# --- wallet entries --------------------------------------------------------------------------

WALLET_COLUMNS = (
    "id",
    "created_at",
    "customer_id",
    "kind",
    "amount",
    "balance_after",
    "reference",
    "actor_id",
    "note",
)


@dataclass(frozen=True)
class WalletEntryFilter:
    customer_id: int | None = None
    kind: WalletEntryKind | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive

    def conditions(self) -> list[ColumnElement[bool]]:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidInput("`end` must be after `start`.")
        conditions: list[ColumnElement[bool]] = []
        if self.customer_id is not None:
            conditions.append(WalletEntry.user_id == self.customer_id)
        if self.kind is not None:
            conditions.append(WalletEntry.kind == self.kind.value)
        if self.start is not None:
            conditions.append(WalletEntry.created_at >= self.start)
        if self.end is not None:
            conditions.append(WalletEntry.created_at < self.end)
        return conditions


def wallet_entry_batches(session_factory: SessionFactory, filters: WalletEntryFilter) -> Batches:
    entry = WalletEntry
    statement = select(
        entry.id,
        entry.created_at,
        entry.user_id,
        entry.kind,
        entry.amount,
        entry.balance_after,
        entry.reference,
        entry.actor_id,
        entry.note,
    ).where(*filters.conditions())
    return keyset_batches(session_factory, statement, key=entry.id.expression, to_row=tuple)
