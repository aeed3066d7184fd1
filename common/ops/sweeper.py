"""The expiry sweeper: writes down that reservations, pending orders and pending wallet
top-ups ran out of time, and
deletes what has no use any more (expired idempotency records, login-throttle windows that
ended).

Nothing depends on it having run (expired reservations stop holding stock at once, an
expired order cannot be paid, an expired idempotency key or throttle window is treated as
absent); it keeps statuses, listings and reports honest and the tables small. Any number of
replicas may sweep at once: each batch claims its rows with `FOR UPDATE SKIP LOCKED`, so
replicas split the work instead of queueing on it, and a row an order payment holds is left
for the next pass instead of being waited on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import cast

from prometheus_client import Counter, Gauge
from sqlalchemy import ColumnElement, Table, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.base import Base
from common.db.engine import Database
from common.db.transaction import run_in_transaction
from common.db.types import utcnow
from common.events.retention import delete_old_events
from common.identity.throttle import REGISTRATION
from common.models.identity import IdempotencyRecord, LoginThrottle, TopUpStatus, WalletTopUp
from common.models.inventory import ReservationStatus, StockReservation
from common.models.orders import CustomerOrder, OrderStatus
from common.orders.status import change_order_status
from common.reservations.service import expire_reservations
from common.wallet.top_ups import expire_top_ups

logger = logging.getLogger(__name__)
EXPIRY_REASON = "not paid before the reservation expired"

# Exported on /metrics of the service that sweeps (registered by its app); the alert rules in
# deploy/prometheus/ page when the last good pass is several intervals old (sweeper lag).
SWEEPER_LAST_SUCCESS = Gauge(
    "sweeper_last_success_timestamp_seconds",
    "Unix time the last expiry sweep pass of this process finished without error.",
    registry=None,
)
SWEEPER_INTERVAL = Gauge(
    "sweeper_interval_seconds", "Configured seconds between sweep passes (0 = off).", registry=None
)
SWEEPER_PASSES = Counter(
    "sweeper_passes", "Sweep passes by outcome.", labelnames=["outcome"], registry=None
)
SWEEPER_METRICS = (SWEEPER_LAST_SUCCESS, SWEEPER_INTERVAL, SWEEPER_PASSES)


@dataclass(frozen=True)
class SweepResult:
    orders_expired: int = 0
    reservations_expired: int = 0
    idempotency_records_deleted: int = 0
    login_throttles_deleted: int = 0
    top_ups_expired: int = 0
    events_deleted: int = 0

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(
            *(getattr(self, name) + getattr(other, name) for name in _COUNTS),
        )

    @property
    def anything(self) -> bool:
        return any(getattr(self, name) for name in _COUNTS)

    def full(self, batch_size: int) -> bool:
        """Whether some kind of row filled its batch, so more may be waiting."""
        return any(getattr(self, name) >= batch_size for name in _COUNTS)


_COUNTS = tuple(name for name in SweepResult.__dataclass_fields__)


async def _delete_claimed(
    session: AsyncSession, model: type[Base], condition: ColumnElement[bool], batch_size: int
) -> int:
    """Delete up to `batch_size` rows matching `condition`, skipping rows someone holds (a
    request reusing an expired idempotency key, a sign-in counting a failure)."""
    table = cast(Table, model.__table__)
    ids = (
        await session.scalars(
            select(table.c.id)
            .where(condition)
            .order_by(table.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if ids:
        await session.execute(delete(table).where(table.c.id.in_(ids)))
    return len(ids)


async def sweep_batch(
    session: AsyncSession,
    *,
    batch_size: int,
    login_window: timedelta,
    register_window: timedelta | None = None,
    event_retention: timedelta | None = None,
    broker: bool = False,
) -> SweepResult:
    """One batch: up to `batch_size` rows of each kind (events past `event_retention` too,
    when it is given)."""
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
    # A payment that never came: the top-up ends without credit (a late callback gets 409).
    top_up_ids = (
        await session.scalars(
            select(WalletTopUp.id)
            .where(
                WalletTopUp.status == TopUpStatus.pending.value,
                WalletTopUp.expires_at <= now,
            )
            .order_by(WalletTopUp.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    await expire_top_ups(session, top_up_ids)
    # An expired record is ignored and replaced when its key comes back; this only frees room.
    idempotency = await _delete_claimed(
        session, IdempotencyRecord, IdempotencyRecord.expires_at <= now, batch_size
    )
    # A window that ended counts nothing: the next failure starts a new one anyway.
    # Registration counters share the table and have a window of their own.
    registering = LoginThrottle.scope == REGISTRATION
    ended = or_(
        and_(~registering, LoginThrottle.window_started_at <= now - login_window),
        and_(
            registering, LoginThrottle.window_started_at <= now - (register_window or login_window)
        ),
    )
    throttles = await _delete_claimed(session, LoginThrottle, ended, batch_size)
    # Events nothing waits on any more, past their retention (docs/events.md).
    events = (
        await delete_old_events(
            session, retention=event_retention, broker=broker, batch_size=batch_size
        )
        if event_retention is not None
        else 0
    )
    return SweepResult(
        len(orders), len(reservation_ids), idempotency, throttles, len(top_up_ids), events
    )


async def sweep(database: Database, *, batch_size: int, settings: Settings) -> SweepResult:
    """Sweep until no batch comes back full; each batch is its own short transaction."""
    login_window = timedelta(seconds=settings.login_failure_window_seconds)
    register_window = timedelta(seconds=settings.register_window_seconds)
    retention = timedelta(days=settings.event_retention_days)
    broker = settings.event_broker_url is not None
    total = SweepResult()
    while True:
        result = await run_in_transaction(
            database.session_factory,
            lambda session: sweep_batch(
                session,
                batch_size=batch_size,
                login_window=login_window,
                register_window=register_window,
                event_retention=retention,
                broker=broker,
            ),
            attempts=database.retry_attempts,
        )
        total += result
        if not result.full(batch_size):
            return total


async def run_sweeper(database: Database, settings: Settings) -> None:
    """Sweep every `SWEEP_INTERVAL_SECONDS` until cancelled; 0 turns the sweeper off."""
    SWEEPER_INTERVAL.set(settings.sweep_interval_seconds)
    if settings.sweep_interval_seconds <= 0:
        return
    while True:
        try:
            result = await sweep(database, batch_size=settings.sweep_batch_size, settings=settings)
        except Exception:
            # A database outage must not end the loop: the next pass tries again.
            SWEEPER_PASSES.labels(outcome="failed").inc()
            logger.exception("expiry sweep failed")
        else:
            SWEEPER_PASSES.labels(outcome="ok").inc()
            SWEEPER_LAST_SUCCESS.set_to_current_time()
            if result.anything:
                logger.info("swept expired rows", extra=asdict(result))
        await asyncio.sleep(settings.sweep_interval_seconds)
