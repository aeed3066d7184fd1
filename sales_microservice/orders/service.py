"""Placing, paying, cancelling and fulfilling orders.

Each operation is one unit of work (the router runs it through `UnitOfWork`, retried on
deadlock): stock, money, sales and the status history change together or not at all. Locks
are taken in one order everywhere: the order row, the customer's account (wallet), the
products in ascending id order, then the reservation (see `common.reservations.service`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from common.db.types import utcnow
from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.identity.access import Principal
from common.models.identity import UserAccount, WalletEntryKind
from common.models.orders import CustomerOrder, OrderItem, OrderStatus, OrderStatusChange
from common.models.sales import Sale, SaleKind
from common.orders import rollups
from common.orders.status import (
    change_order_status,
    effective_order_status,
    log_status,
    order_status_is,
)
from common.reservations.service import (
    Hold,
    ReservationExpired,
    confirm_reservation,
    release_reservation,
    reserve_stock,
)
from common.sales.service import MAX_AMOUNT, AmountOutOfRange, record_refund
from common.wallet.service import AccountInactive, InsufficientFunds, apply_wallet_change
from sales_microservice.orders.schemas import OrderCancel, OrderCreate, OrderStatusUpdate

# The only moves an admin makes by hand; every other status has its own endpoint.
FULFILMENT = {
    OrderStatus.PAID: (OrderStatus.SHIPPED,),
    OrderStatus.SHIPPED: (OrderStatus.DELIVERED,),
}


class OrderNotFound(NotFound):
    code = "order_not_found"
    title = "Order not found"


class OrderExpired(Conflict):
    code = "order_expired"
    title = "Order has expired"


class OrderNotPending(Conflict):
    code = "order_not_pending"
    title = "Order is not awaiting payment"


class OrderNotCancellable(Conflict):
    code = "order_not_cancellable"
    title = "Order can no longer be cancelled"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "Status change not allowed"


class TooManyPendingOrders(Conflict):
    code = "too_many_pending_orders"
    title = "Too many orders awaiting payment"


class UnknownCustomer(InvalidInput):
    code = "unknown_customer"
    title = "Unknown customer"


def _reference(order: CustomerOrder) -> str:
    return f"order:{order.id}"


def _with_items() -> Select[tuple[CustomerOrder]]:
    return select(CustomerOrder).options(selectinload(CustomerOrder.items))


@cache
def _order_by_id(*, lock: bool) -> Select[tuple[CustomerOrder]]:
    """Built once (its cache key with it): every order request reads its order by id."""
    statement = select(CustomerOrder).with_for_update() if lock else _with_items()
    return statement.where(
        CustomerOrder.id == bindparam("order_id", type_=Integer())
    ).execution_options(populate_existing=True)


async def get_order(session: AsyncSession, order_id: int, *, actor: Principal) -> CustomerOrder:
    """The order with its lines. Another customer's order is 404, as if it did not exist:
    a 403 would confirm that the id is taken."""
    order = await session.scalar(_order_by_id(lock=False), {"order_id": order_id})
    if order is None or not actor.can_act_for(order.customer_id):
        raise OrderNotFound(f"No order with id {order_id}.")
    return order


async def _lock_order(session: AsyncSession, order_id: int, *, actor: Principal) -> CustomerOrder:
    order = await session.scalar(_order_by_id(lock=True), {"order_id": order_id})
    if order is None or not actor.can_act_for(order.customer_id):
        raise OrderNotFound(f"No order with id {order_id}.")
    return order


def _expired(order: CustomerOrder) -> OrderExpired:
    return OrderExpired(
        f"Order {order.id} was not paid before {order.expires_at.isoformat()}; its stock has "
        "been released. Place a new order.",
        expires_at=order.expires_at.isoformat(),
    )


@dataclass(frozen=True)
class _Buyer:
    id: int
    balance: Decimal


async def _customer_of(session: AsyncSession, request: OrderCreate, actor: Principal) -> _Buyer:
    if actor.is_admin:
        if request.customer_id is None:
            raise InvalidInput("An admin places an order for a customer: send `customer_id`.")
        customer_id = request.customer_id
    else:
        if request.customer_id not in (None, actor.id):
            raise Forbidden("Customers may only place orders for themselves.")
        customer_id = actor.id
    # The account's row lock, exclusive: one customer's placements queue here, so the count
    # of pending orders below cannot be raced past the cap. A deactivation (which locks the
    # account and looks for open orders) either finishes first and is seen here, or waits
    # for this order and then sees it. The account comes before the products, as in payment.
    account = (
        await session.execute(
            select(UserAccount.is_active, UserAccount.wallet_balance)
            .where(UserAccount.id == customer_id)
            .with_for_update()
        )
    ).one_or_none()
    if account is None:
        raise UnknownCustomer(f"No customer with id {customer_id}.", customer_id=customer_id)
    if not account.is_active:
        raise AccountInactive(f"Customer {customer_id} is deactivated.")
    return _Buyer(id=customer_id, balance=account.wallet_balance)


async def _refuse_too_many_pending(session: AsyncSession, customer_id: int, cap: int) -> None:
    pending = await session.scalar(
        select(func.count())
        .select_from(CustomerOrder)
        .where(CustomerOrder.customer_id == customer_id, order_status_is(OrderStatus.PENDING))
    )
    if (pending or 0) >= cap:
        raise TooManyPendingOrders(
            f"Customer {customer_id} already has {pending} orders awaiting payment; pay or "
            "cancel one first.",
            limit=cap,
        )


async def create_order(
    session: AsyncSession,
    request: OrderCreate,
    *,
    actor: Principal,
    ttl_seconds: int,
    max_pending: int,
    timezone: ZoneInfo,
) -> CustomerOrder:
    """Reserve every line's stock and snapshot its price; the order waits to be paid.

    Nobody holds stock they cannot pay for: a total above the customer's balance is 409
    `insufficient_funds`, and a customer with `max_pending` orders awaiting payment gets 409
    `too_many_pending_orders`; either way the transaction rolls back and holds nothing.
    """
    buyer = await _customer_of(session, request, actor)
    await _refuse_too_many_pending(session, buyer.id, max_pending)
    expires_at = utcnow() + timedelta(seconds=ttl_seconds)
    reserved = await reserve_stock(
        session,
        [Hold(product_id=line.product_id, quantity=line.quantity) for line in request.items],
        expires_at=expires_at,
        actor=actor.actor,
    )
    # Prices as the product rows showed them under the lock the reservation took.
    prices = {line.product_id: reserved.products[line.product_id].price for line in request.items}
    total = sum((prices[line.product_id] * line.quantity for line in request.items), start=0)
    if total > MAX_AMOUNT:
        raise AmountOutOfRange(f"The order total {total} exceeds {MAX_AMOUNT}.")
    if total > buyer.balance:
        # The balance was read under the account's lock; payment debits it under the same.
        raise InsufficientFunds(
            f"The wallet holds {buyer.balance}, less than the order's {total}.",
            balance=str(buyer.balance),
            requested=str(total),
        )
    order = CustomerOrder(
        customer_id=buyer.id,
        status=OrderStatus.PENDING.value,
        total=total,
        shipping_address=request.shipping_address,
        notes=request.notes,
        reservation_id=reserved.reservation.id,
        expires_at=expires_at,
        created_at=utcnow(),
    )
    session.add(order)
    await session.flush()
    session.add_all(
        OrderItem(
            order_id=order.id,
            product_id=line.product_id,
            quantity=line.quantity,
            unit_price=prices[line.product_id],
            line_total=prices[line.product_id] * line.quantity,
        )
        for line in request.items
    )
    reserved.reservation.reference = _reference(order)
    await log_status(session, order, from_status=None, actor_id=actor.id)
    await rollups.order_placed(session, order, timezone)
    return await get_order(session, order.id, actor=actor)


async def pay_order(
    session: AsyncSession, order_id: int, *, actor: Principal, timezone: ZoneInfo
) -> CustomerOrder:
    """Debit the wallet, turn the reservation into one sale per line at the snapshotted
    prices, mark the order paid. Any refusal (insufficient funds, expiry) rolls all of it
    back: the order stays pending and nothing is charged."""
    order = await _lock_order(session, order_id, actor=actor)
    status = effective_order_status(order.status, order.expires_at)
    if status == OrderStatus.EXPIRED:
        raise _expired(order)
    if status != OrderStatus.PENDING:
        raise OrderNotPending(f"Order {order.id} is {status}.", order_status=status)
    await apply_wallet_change(
        session,
        user_id=order.customer_id,
        amount=-order.total,
        kind=WalletEntryKind.payment,
        actor_id=actor.id,
        reference=_reference(order),
    )
    items = (await session.scalars(select(OrderItem).where(OrderItem.order_id == order.id))).all()
    try:
        await confirm_reservation(
            session,
            order.reservation_id,
            timezone=timezone,
            actor=actor.actor,
            unit_prices={item.product_id: item.unit_price for item in items},
            order_id=order.id,
        )
    except ReservationExpired as error:
        # It ran out between our check and the reservation's lock.
        raise _expired(order) from error
    order.paid_at = utcnow()
    await change_order_status(session, order, OrderStatus.PAID, actor_id=actor.id)
    units = sum(item.quantity for item in items)
    await rollups.order_paid(session, order, units=units, timezone=timezone)
    return await get_order(session, order.id, actor=actor)


async def cancel_order(
    session: AsyncSession,
    order_id: int,
    request: OrderCancel,
    *,
    actor: Principal,
    timezone: ZoneInfo,
) -> CustomerOrder:
    """Pending: release the stock (`cancelled`). Paid: give the money back, return the
    stock and book refunds against the order's sales (`refunded`). Later: 409."""
    order = await _lock_order(session, order_id, actor=actor)
    status = effective_order_status(order.status, order.expires_at)
    if status == OrderStatus.PENDING:
        await release_reservation(session, order.reservation_id)
        cancelled_at = await change_order_status(
            session, order, OrderStatus.CANCELLED, actor_id=actor.id, reason=request.reason
        )
        await rollups.order_cancelled(session, order, at=cancelled_at, timezone=timezone)
    elif status == OrderStatus.PAID:
        await apply_wallet_change(
            session,
            user_id=order.customer_id,
            amount=order.total,
            kind=WalletEntryKind.refund,
            actor_id=actor.id,
            reference=_reference(order),
            note=request.reason,
        )
        # Ascending product id, like every other writer of these products.
        sales = (
            await session.scalars(
                select(Sale)
                .where(Sale.order_id == order.id, Sale.kind == SaleKind.sale.value)
                .order_by(Sale.product_id)
            )
        ).all()
        for sale in sales:
            await record_refund(
                session, sale=sale, quantity=sale.quantity, timezone=timezone, actor=actor.actor
            )
        refunded_at = await change_order_status(
            session, order, OrderStatus.REFUNDED, actor_id=actor.id, reason=request.reason
        )
        await rollups.order_refunded(session, order, at=refunded_at, timezone=timezone)
    elif status == OrderStatus.EXPIRED:
        raise _expired(order)
    else:
        raise OrderNotCancellable(f"A {status} order cannot be cancelled.", order_status=status)
    return await get_order(session, order.id, actor=actor)


async def update_status(
    session: AsyncSession, order_id: int, request: OrderStatusUpdate, *, actor: Principal
) -> CustomerOrder:
    order = await _lock_order(session, order_id, actor=actor)
    status = OrderStatus(effective_order_status(order.status, order.expires_at))
    allowed = FULFILMENT.get(status, ())
    if request.status not in allowed:
        allowed_names = ", ".join(allowed) if allowed else "none"
        raise InvalidTransition(
            f"A {status} order cannot move to {request.status}; allowed: {allowed_names}.",
            order_status=status,
            allowed=[value.value for value in allowed],
        )
    await change_order_status(
        session, order, request.status, actor_id=actor.id, reason=request.note
    )
    return await get_order(session, order.id, actor=actor)


@dataclass(frozen=True)
class OrderFilter:
    status: OrderStatus | None = None
    customer_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None


def order_conditions(filters: OrderFilter, *, actor: Principal) -> list[ColumnElement[bool]]:
    """The WHERE of an order listing (and of the orders export). Customers only ever see
    their own orders."""
    if filters.start and filters.end and filters.end <= filters.start:
        raise InvalidInput("`end` must be after `start`.")
    if not actor.is_admin and filters.customer_id not in (None, actor.id):
        raise Forbidden("Customers may only list their own orders.")
    customer_id = filters.customer_id if actor.is_admin else actor.id
    conditions: list[ColumnElement[bool]] = []
    if customer_id is not None:
        conditions.append(CustomerOrder.customer_id == customer_id)
    if filters.status is not None:
        conditions.append(order_status_is(filters.status))
    if filters.start is not None:
        conditions.append(CustomerOrder.created_at >= filters.start)
    if filters.end is not None:
        conditions.append(CustomerOrder.created_at < filters.end)
    return conditions


def list_orders_statement(
    filters: OrderFilter, *, actor: Principal
) -> Select[tuple[CustomerOrder]]:
    """Newest first."""
    return (
        _with_items()
        .where(*order_conditions(filters, actor=actor))
        .order_by(CustomerOrder.created_at.desc(), CustomerOrder.id.desc())
    )


async def order_history(
    session: AsyncSession, order_id: int, *, actor: Principal
) -> list[OrderStatusChange]:
    await get_order(session, order_id, actor=actor)
    return list(
        (
            await session.scalars(
                select(OrderStatusChange)
                .where(OrderStatusChange.order_id == order_id)
                .order_by(OrderStatusChange.id)
            )
        ).all()
    )
