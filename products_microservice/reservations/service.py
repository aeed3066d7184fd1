"""Reservations made directly by a manager (orders reserve through the sales service).

A thin layer over `common.reservations.service`, where holding, confirming and releasing
stock live for both services; only the manager's own rule lives here: a reservation that
belongs to an order is changed through its order, never directly.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.types import utcnow
from common.errors import Conflict
from common.models.inventory import StockReservation
from common.models.orders import CustomerOrder
from common.reservations import service as reservations
from common.reservations.service import Hold
from products_microservice.reservations.schemas import ReservationCreate


class ReservationOwnedByOrder(Conflict):
    code = "reservation_owned_by_order"
    title = "Reservation belongs to an order"


async def get_reservation(session: AsyncSession, reservation_id: int) -> StockReservation:
    return await reservations.get_reservation(session, reservation_id)


async def create_reservation(
    session: AsyncSession, request: ReservationCreate, *, actor: str
) -> StockReservation:
    reserved = await reservations.reserve_stock(
        session,
        [Hold(product_id=line.product_id, quantity=line.quantity) for line in request.items],
        expires_at=utcnow() + timedelta(seconds=request.ttl_seconds),
        reference=request.reference,
        actor=actor,
    )
    return reserved.reservation


async def _refuse_if_ordered(session: AsyncSession, reservation_id: int) -> None:
    """An order's reservation follows its order (paid, cancelled, expired); confirming or
    releasing it here would leave the order claiming stock it no longer has."""
    order_id = await session.scalar(
        select(CustomerOrder.id).where(CustomerOrder.reservation_id == reservation_id)
    )
    if order_id is not None:
        raise ReservationOwnedByOrder(
            f"Reservation {reservation_id} belongs to order {order_id}; pay or cancel the "
            "order instead.",
            order_id=order_id,
        )


async def confirm(
    session: AsyncSession, reservation_id: int, *, timezone: ZoneInfo, actor: str
) -> StockReservation:
    await _refuse_if_ordered(session, reservation_id)
    await reservations.confirm_reservation(session, reservation_id, timezone=timezone, actor=actor)
    return await reservations.get_reservation(session, reservation_id)


async def release(session: AsyncSession, reservation_id: int) -> StockReservation:
    await _refuse_if_ordered(session, reservation_id)
    return await reservations.release_reservation(session, reservation_id)
