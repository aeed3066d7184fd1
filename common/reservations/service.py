"""Stock reservations: hold units for a while, then turn them into sales or let them go.

A reservation is a header (`stock_reservation`: one id, status, expiry) with one item per
product. It moves `active -> confirmed | released | expired` exactly once. Rules:

- Reserving locks the products in ascending id order
  (`common.inventory.availability.lock_stock`) and checks every line against what is
  available under those locks: all lines or none.
- Expiry needs nothing to run: an item past `expires_at` stops counting at once
  (`reserved_quantity`); `expire_reservations` (the sweeper) only writes the status down.
- Confirming marks the reservation confirmed, so its own units stop counting as held, then
  books one sale per item through `common.sales.service.record_sale` in the same
  transaction: a confirmed reservation is a sale of those units, and analytics see it like
  any other.
- Lock order, everywhere: order row, account row, product rows (ascending id), then the
  reservation header. Nothing takes them in another order, so nothing waits in a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from common.db.types import utcnow
from common.errors import Conflict, InvalidInput, NotFound
from common.events.stock import note_available
from common.inventory.availability import LockedStock, available_quantity, lock_stock
from common.inventory.errors import InsufficientStock
from common.models.catalog import Product, ProductStatus
from common.models.inventory import ReservationStatus, StockReservation, StockReservationItem
from common.models.sales import Sale
from common.sales.service import ProductNotSellable, record_sale

MAX_RESERVATION_LINES = 100


class ReservationNotFound(NotFound):
    code = "reservation_not_found"
    title = "Reservation not found"


class ReservationExpired(Conflict):
    code = "reservation_expired"
    title = "Reservation has expired"


class ReservationNotActive(Conflict):
    code = "reservation_not_active"
    title = "Reservation is no longer active"


class UnknownProduct(InvalidInput):
    code = "unknown_product"
    title = "Unknown product"


@dataclass(frozen=True)
class Hold:
    product_id: int
    quantity: int


@dataclass(frozen=True)
class Reserved:
    reservation: StockReservation
    # The products as locked while reserving: their prices are the ones to snapshot.
    products: dict[int, LockedStock]


def effective_status(status: str, expires_at: datetime, now: datetime | None = None) -> str:
    """What a reservation is now: an active one past its expiry is expired, swept or not."""
    if status == ReservationStatus.ACTIVE and expires_at <= (now or utcnow()):
        return ReservationStatus.EXPIRED.value
    return status


async def reserve_stock(
    session: AsyncSession,
    holds: Sequence[Hold],
    *,
    expires_at: datetime,
    reference: str | None = None,
    actor: str | None = None,
) -> Reserved:
    """Hold every line or none: 422 `unknown_product`, 409 `product_archived`, or 409
    `insufficient_stock` naming each short product with what it has available."""
    if not 1 <= len(holds) <= MAX_RESERVATION_LINES:
        raise InvalidInput(f"A reservation holds 1 to {MAX_RESERVATION_LINES} products.")
    product_ids = [hold.product_id for hold in holds]
    if len(set(product_ids)) != len(product_ids):
        raise InvalidInput("Each product may appear only once.")
    if any(hold.quantity < 1 for hold in holds):
        raise InvalidInput("Every quantity must be at least 1.")

    stock = await lock_stock(session, product_ids)
    unknown = sorted(set(product_ids) - stock.keys())
    if unknown:
        raise UnknownProduct(
            f"No product with id {', '.join(map(str, unknown))}.", product_ids=unknown
        )
    archived = sorted(pid for pid in product_ids if stock[pid].status != ProductStatus.ACTIVE)
    if archived:
        raise ProductNotSellable(
            f"Archived products cannot be reserved: {', '.join(map(str, archived))}.",
            product_ids=archived,
        )
    shortages = [
        {
            "product_id": hold.product_id,
            "requested": hold.quantity,
            "available": max(stock[hold.product_id].available, 0),
        }
        for hold in sorted(holds, key=lambda hold: hold.product_id)
        if hold.quantity > stock[hold.product_id].available
    ]
    if shortages:
        named = ", ".join(f"{s['product_id']} ({s['available']} available)" for s in shortages)
        raise InsufficientStock(f"Not enough stock for product {named}.", shortages=shortages)

    reservation = StockReservation(
        status=ReservationStatus.ACTIVE.value,
        reference=reference,
        actor=actor,
        expires_at=expires_at,
    )
    session.add(reservation)
    await session.flush()
    session.add_all(
        StockReservationItem(
            reservation_id=reservation.id,
            product_id=hold.product_id,
            quantity=hold.quantity,
            status=ReservationStatus.ACTIVE.value,
            expires_at=expires_at,
        )
        for hold in holds
    )
    await session.flush()
    _note_holds(
        session,
        stock,
        [(hold.product_id, -hold.quantity) for hold in holds],
        cause=f"reservation:{reservation.id}",
    )
    return Reserved(reservation=await get_reservation(session, reservation.id), products=stock)


def _note_holds(
    session: AsyncSession,
    stock: Mapping[int, LockedStock],
    changes: Sequence[tuple[int, int]],
    *,
    cause: str,
) -> None:
    """The stock alerts of holds taken (negative) or given back (positive), against what the
    products' lock read showed available."""
    for product_id, change in changes:
        locked = stock[product_id]
        note_available(
            session,
            product_id=product_id,
            before=locked.available,
            after=locked.available + change,
            threshold=locked.low_stock_threshold,
            on_hand=locked.on_hand,
            cause=cause,
        )


_RESERVATION_BY_ID = (
    select(StockReservation)
    .where(StockReservation.id == bindparam("reservation_id", type_=Integer()))
    .options(selectinload(StockReservation.items))
    .execution_options(populate_existing=True)
)


async def get_reservation(session: AsyncSession, reservation_id: int) -> StockReservation:
    reservation = await session.scalar(_RESERVATION_BY_ID, {"reservation_id": reservation_id})
    if reservation is None:
        raise ReservationNotFound(f"No reservation with id {reservation_id}.")
    return reservation


async def _lock_active(session: AsyncSession, reservation_id: int) -> StockReservation:
    """The reservation, its header row locked; refuses one that no longer holds stock."""
    reservation = await session.scalar(
        select(StockReservation)
        .where(StockReservation.id == reservation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if reservation is None:
        raise ReservationNotFound(f"No reservation with id {reservation_id}.")
    status = effective_status(reservation.status, reservation.expires_at)
    if status == ReservationStatus.EXPIRED:
        raise ReservationExpired(
            f"Reservation {reservation_id} expired at {reservation.expires_at.isoformat()}.",
            expires_at=reservation.expires_at.isoformat(),
        )
    if status != ReservationStatus.ACTIVE:
        raise ReservationNotActive(
            f"Reservation {reservation_id} is {status}.", reservation_status=status
        )
    return reservation


async def _set_status(
    session: AsyncSession, reservation_ids: Sequence[int], status: ReservationStatus
) -> None:
    """Header and items together: the items' copy is what availability reads."""
    for key, model_status in (
        (StockReservation.id, StockReservation.status),
        (StockReservationItem.reservation_id, StockReservationItem.status),
    ):
        await session.execute(
            update(key.class_)
            .where(key.in_(reservation_ids), model_status == ReservationStatus.ACTIVE.value)
            .values(status=status.value)
            .execution_options(synchronize_session=False)
        )


async def confirm_reservation(
    session: AsyncSession,
    reservation_id: int,
    *,
    timezone: ZoneInfo,
    actor: str | None = None,
    unit_prices: Mapping[int, Decimal] | None = None,
    order_id: int | None = None,
) -> list[Sale]:
    """Turn the held units into sales (one per product, at `unit_prices` or the current
    price): 409 `reservation_expired` / `reservation_not_active` when it holds nothing."""
    items = (
        await session.scalars(
            select(StockReservationItem)
            .where(StockReservationItem.reservation_id == reservation_id)
            .order_by(StockReservationItem.product_id)
        )
    ).all()
    # Products before the header: the lock order every writer follows.
    stock = await lock_stock(session, [item.product_id for item in items])
    await _lock_active(session, reservation_id)
    await _set_status(session, [reservation_id], ReservationStatus.CONFIRMED)
    prices = unit_prices or {}
    return [
        await record_sale(
            session,
            product_id=item.product_id,
            quantity=item.quantity,
            timezone=timezone,
            unit_price=prices.get(item.product_id),
            order_id=order_id,
            actor=actor,
            # The lock read counted this reservation's own hold (it was active, or
            # `_lock_active` would have refused): confirmed now, it is the sale itself.
            locked=replace(
                stock[item.product_id],
                reserved=stock[item.product_id].reserved - item.quantity,
                confirming=item.quantity,
            ),
        )
        for item in items
    ]


async def release_reservation(session: AsyncSession, reservation_id: int) -> StockReservation:
    """Give the held units back at once: 409 when the reservation holds nothing."""
    items = (
        await session.scalars(
            select(StockReservationItem).where(
                StockReservationItem.reservation_id == reservation_id
            )
        )
    ).all()
    # Products before the header, as confirming does: the stock alerts read them locked.
    stock = await lock_stock(session, [item.product_id for item in items])
    await _lock_active(session, reservation_id)
    await _set_status(session, [reservation_id], ReservationStatus.RELEASED)
    _note_holds(
        session,
        stock,
        [(item.product_id, item.quantity) for item in items],
        cause=f"reservation:{reservation_id} released",
    )
    return await get_reservation(session, reservation_id)


async def expire_reservations(session: AsyncSession, reservation_ids: Sequence[int]) -> None:
    """Write down that these reservations expired (they stopped holding stock already), and
    say `stock.back` for a product their holds had taken to 0.

    Their units became available the moment they expired; the alert comes when the sweeper
    writes it down. The products are read without their row locks (the sweeper holds the
    reservation headers, which come after products in the lock order): `before` is what was
    available with these holds counted, `after` what is available now."""
    if not reservation_ids:
        return
    items = (
        await session.execute(
            select(
                StockReservationItem.reservation_id,
                StockReservationItem.product_id,
                StockReservationItem.quantity,
            ).where(
                StockReservationItem.reservation_id.in_(reservation_ids),
                StockReservationItem.status == ReservationStatus.ACTIVE.value,
            )
        )
    ).all()
    await _set_status(session, reservation_ids, ReservationStatus.EXPIRED)
    if not items:
        return
    levels = {
        row.id: row
        for row in await session.execute(
            select(
                Product.id,
                Product.stock_on_hand,
                Product.low_stock_threshold,
                available_quantity().label("available"),
            ).where(Product.id.in_({item.product_id for item in items}))
        )
    }
    for item in items:
        level = levels[item.product_id]
        note_available(
            session,
            product_id=item.product_id,
            before=int(level.available) - item.quantity,
            after=int(level.available),
            threshold=level.low_stock_threshold,
            on_hand=level.stock_on_hand,
            cause=f"reservation:{item.reservation_id} expired",
        )
