"""Order status rules shared by the sales service and the sweeper.

An order's status moves along

    pending -> paid -> shipped -> delivered
    pending -> cancelled | expired          paid -> refunded

and every move appends an `order_status_change` row in the same transaction
(`change_order_status`). A pending order past `expires_at` is expired whether or not the
sweeper has written that down yet: its reservation holds nothing and it cannot be paid.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.types import utcnow
from common.events.outbox import emit, entity
from common.events.types import EventType
from common.models.orders import CustomerOrder, OrderStatus, OrderStatusChange

# Orders the customer is still waiting on (or the store still owes something for).
OPEN_STATUSES = (OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.SHIPPED)


def effective_order_status(status: str, expires_at: datetime, now: datetime | None = None) -> str:
    if status == OrderStatus.PENDING and expires_at <= (now or utcnow()):
        return OrderStatus.EXPIRED.value
    return status


def order_status_is(status: OrderStatus, now: datetime | None = None) -> ColumnElement[bool]:
    """SQL for "the order is `status` now", with the same expiry rule as
    `effective_order_status`."""
    now = now or utcnow()
    pending = CustomerOrder.status == OrderStatus.PENDING.value
    if status == OrderStatus.PENDING:
        return and_(pending, CustomerOrder.expires_at > now)
    if status == OrderStatus.EXPIRED:
        return or_(
            CustomerOrder.status == OrderStatus.EXPIRED.value,
            and_(pending, CustomerOrder.expires_at <= now),
        )
    return CustomerOrder.status == status.value


def order_is_open(now: datetime | None = None) -> ColumnElement[bool]:
    return or_(*(order_status_is(status, now) for status in OPEN_STATUSES))


async def log_status(
    session: AsyncSession,
    order: CustomerOrder,
    *,
    from_status: str | None,
    actor_id: int | None,
    reason: str | None = None,
) -> datetime:
    """Append the order's move to its current status; returns when it happened."""
    moment = utcnow()
    session.add(
        OrderStatusChange(
            order_id=order.id,
            from_status=from_status,
            to_status=order.status,
            actor_id=actor_id,
            reason=reason,
            created_at=moment,
        )
    )
    await session.flush()
    changes = {"status": [from_status, order.status]}
    if from_status is None:
        emit(session, EventType.ORDER_PLACED, entity(order), changes=changes)
        return moment
    if (specific := _SPECIFIC.get(order.status)) is not None:
        emit(session, specific, entity(order), changes=changes)
    emit(session, EventType.ORDER_STATUS_CHANGED, entity(order), changes=changes)
    return moment


_SPECIFIC = {
    OrderStatus.PAID.value: EventType.ORDER_PAID,
    OrderStatus.CANCELLED.value: EventType.ORDER_CANCELLED,
    OrderStatus.REFUNDED.value: EventType.ORDER_REFUNDED,
}


async def change_order_status(
    session: AsyncSession,
    order: CustomerOrder,
    to_status: OrderStatus,
    *,
    actor_id: int | None,
    reason: str | None = None,
) -> datetime:
    """Move a locked order to `to_status` and record the move (the caller checked it);
    returns when it happened (the day the order rollups count it on)."""
    from_status = order.status
    order.status = to_status.value
    return await log_status(
        session, order, from_status=from_status, actor_id=actor_id, reason=reason
    )
