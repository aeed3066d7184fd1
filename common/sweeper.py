"""The expiry sweeper: writes down that reservations and pending orders ran out of time.

Nothing depends on it having run (expired reservations stop holding stock at once, and an
expired order cannot be paid); it keeps statuses, listings and reports honest. Any number of
replicas may sweep at once: each batch claims its rows with `FOR UPDATE SKIP LOCKED`, so
replicas split the work instead of queueing on it, and a row an order payment holds is left
for the next pass instead of being waited on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.engine import Database
from common.db.transaction import run_in_transaction
from common.db.types import utcnow
from common.models.inventory import ReservationStatus, StockReservation
from common.models.orders import CustomerOrder, OrderStatus
from common.orders import change_order_status
from common.reservations import expire_reservations

logger = logging.getLogger(__name__)
EXPIRY_REASON = "not paid before the reservation expired"


@dataclass(frozen=True)
class SweepResult:
    orders_expired: int = 0
    reservations_expired: int = 0

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(
            self.orders_expired + other.orders_expired,
            self.reservations_expired + other.reservations_expired,
        )


async def sweep_batch(session: AsyncSession, *, batch_size: int) -> SweepResult:
    """One batch: up to `batch_size` orders, then up to `batch_size` reservations."""
    now = utcnow()
    orders = (
        await session.scalars(
            select(CustomerOrder)
            .where(
                CustomerOrder.status == OrderStatus.PENDING.value,
                CustomerOrder.expires_at <= now,
            )
            .order_by(CustomerOrder.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for order in orders:
        await change_order_status(
            session, order, OrderStatus.EXPIRED, actor_id=None, reason=EXPIRY_REASON
        )
    # Orders' reservations expire with them here too: they share the expiry time.
    reservation_ids = (
        await session.scalars(
            select(StockReservation.id)
            .where(
                StockReservation.status == ReservationStatus.ACTIVE.value,
                StockReservation.expires_at <= now,
            )
            .order_by(StockReservation.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    await expire_reservations(session, reservation_ids)
    return SweepResult(len(orders), len(reservation_ids))


async def sweep(database: Database, *, batch_size: int) -> SweepResult:
    """Sweep until a batch comes back short; each batch is its own short transaction."""
    total = SweepResult()
    while True:
        result = await run_in_transaction(
            database.session_factory,
            lambda session: sweep_batch(session, batch_size=batch_size),
            attempts=database.retry_attempts,
        )
        total += result
        if max(result.orders_expired, result.reservations_expired) < batch_size:
            return total


async def run_sweeper(database: Database, settings: Settings) -> None:
    """Sweep every `SWEEP_INTERVAL_SECONDS` until cancelled; 0 turns the sweeper off."""
    if settings.sweep_interval_seconds <= 0:
        return
    while True:
        try:
            result = await sweep(database, batch_size=settings.sweep_batch_size)
        except Exception:
            # A database outage must not end the loop: the next pass tries again.
            logger.exception("expiry sweep failed")
        else:
            if result.orders_expired or result.reservations_expired:
                logger.info(
                    "expired stale orders and reservations",
                    extra={
                        "orders_expired": result.orders_expired,
                        "reservations_expired": result.reservations_expired,
                    },
                )
        await asyncio.sleep(settings.sweep_interval_seconds)
