"""Recording stock movements, shared by every service that moves stock (catalog, sales, orders).

Invariants, kept in SQL rather than by reading a level into Python and writing it back:

- `product.stock_on_hand` never goes below zero: the only writer is the guarded
  `UPDATE product SET stock_on_hand = stock_on_hand + :delta WHERE ... >= 0` in
  `record_movement`, whose row count says whether the change happened.
- Every change appends one `inventory_movement` in the same transaction, with the level it
  left (`quantity_after`), read back under the row lock the UPDATE took. So the cached level
  always equals the sum of the ledger, and `quantity_after` forms an unbroken chain;
  `common.inventory.audit.reconcile` proves both.
- Several products are locked in ascending id order (`record_movements`), so two writers
  touching the same products can never wait on each other in a cycle.
- A product's movements never go back in time: `created_at` is at least that of its previous
  movement, so "the last movement at or before T" is the level at T
  (`common.inventory.levels.level_as_of`).
- A removal never takes units held by reservations (`common.inventory.availability`): it is
  guarded by what they hold, read under the product's row lock (`lock_stock`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Integer,
    String,
    Table,
    Update,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.types import utcnow
from common.events.outbox import emit, entity
from common.events.stock import note_available
from common.events.types import EventType
from common.inventory.availability import LockedStock, available_quantity, lock_stock
from common.inventory.errors import (
    BackdatedMovement,
    InsufficientStock,
    NoStockChange,
    ProductNotFound,
    StaleStock,
    StockLimitExceeded,
)
from common.models.catalog import MAX_STOCK, Product
from common.models.inventory import InventoryMovement, MovementKind

# The table itself, for Core bulk INSERTs (the ORM's bulk path costs per row).
_MOVEMENT_TABLE = cast(Table, InventoryMovement.__table__)


@dataclass(frozen=True)
class StockChange:
    product_id: int
    delta: int
    kind: MovementKind
    reference: str | None = None
    note: str | None = None


@lru_cache(maxsize=2)
def _guarded_update(*, compare: bool) -> Update:
    """The only statement that changes a product's stock: by `delta`, only while the level
    stays between `floor` and `MAX_STOCK` (and, when `compare`, only from
    `expected_on_hand`); its row count says whether it happened. Built once."""
    new_level = Product.stock_on_hand + bindparam("delta", type_=Integer())
    guarded = (
        update(Product)
        .where(
            Product.id == bindparam("product_id", type_=Integer()),
            new_level >= bindparam("floor", type_=Integer()),
            new_level <= MAX_STOCK,
        )
        .values(stock_on_hand=new_level)
        .execution_options(synchronize_session=False)
    )
    if compare:
        guarded = guarded.where(
            Product.stock_on_hand == bindparam("expected_on_hand", type_=Integer())
        )
    return guarded


async def record_movement(
    session: AsyncSession,
    *,
    product_id: int,
    kind: MovementKind,
    delta: int,
    reference: str | None = None,
    actor: str | None = None,
    note: str | None = None,
    expected_on_hand: int | None = None,
    at: datetime | None = None,
    locked: LockedStock | None = None,
) -> InventoryMovement:
    """Move `delta` units (signed) of one product and append the movement; flushes only.

    `expected_on_hand` makes it a compare-and-set (`StaleStock` when the level moved). `at`
    dates the movement (imports, history); it may not predate the product's last movement.
    `locked` is what `lock_stock` returned for this product in this transaction, when the
    caller took the lock itself and has not moved the product since: it saves the reads that
    lock and the reads that follow it (the fewer round trips under a row lock, the more sales
    a hot product takes per second).
    """
    if delta == 0:
        raise NoStockChange("A movement must change the stock by at least one unit.")
    if at is not None and locked is None:
        # Refuse before changing anything; checked again under the row lock below.
        await _movement_time(session, product_id, at)
    if locked is None:
        # Units held by reservations are not ours to take: a removal may only go down to
        # what they hold. (Confirming a reservation marks it confirmed first, so its own
        # units no longer count here and become the sale.) An addition reads them too: the
        # stock alerts compare what was available with what is.
        locked = (await lock_stock(session, [product_id])).get(product_id)
        if locked is None:
            raise ProductNotFound(f"No product with id {product_id}.")
    floor = locked.reserved if delta < 0 else 0
    # With the lock read, the date is known (and a backdate refused) before writing.
    created_at = _not_before(locked.last_movement_at, at)
    result = cast(
        CursorResult[Any],
        await session.execute(
            _guarded_update(compare=expected_on_hand is not None),
            {
                "product_id": product_id,
                "delta": delta,
                "floor": floor,
                "expected_on_hand": expected_on_hand,
            },
        ),
    )
    if result.rowcount != 1:
        await _raise_refusal(session, product_id, delta=delta, expected_on_hand=expected_on_hand)

    # Nobody else could move the product since our lock read it, and the guard held: the
    # level is exactly the one we read plus `delta`.
    quantity_after = locked.on_hand + delta
    movement = InventoryMovement(
        product_id=product_id,
        kind=kind.value,
        delta=delta,
        quantity_after=quantity_after,
        reference=reference,
        actor=actor,
        note=note,
        created_at=created_at,
    )
    session.add(movement)
    await session.flush()
    if kind not in _NOT_ADJUSTMENTS:
        emit(session, EventType.STOCK_ADJUSTED, entity(movement))
    if kind is not MovementKind.INITIAL:
        # What was available before leaves out the units a confirmed reservation held.
        note_available(
            session,
            product_id=product_id,
            before=locked.available - locked.confirming,
            after=locked.available + delta,
            threshold=locked.low_stock_threshold,
            on_hand=quantity_after,
            cause=reference or f"{kind.value}:{movement.id}",
        )
    return movement


# Movements with events of their own (`sale.*`), or none (a product's opening stock).
_NOT_ADJUSTMENTS = frozenset({MovementKind.SALE, MovementKind.RETURN, MovementKind.INITIAL})


async def record_movements(
    session: AsyncSession, changes: Sequence[StockChange], *, actor: str | None = None
) -> list[InventoryMovement]:
    """Several movements in one transaction, rows locked in ascending product id order.

    Returns the movements in the order of `changes`. Any refusal raises and the caller's
    transaction rolls back, so either every change happens or none does.
    """
    order = sorted(range(len(changes)), key=lambda index: changes[index].product_id)
    movements: dict[int, InventoryMovement] = {}
    for index in order:
        change = changes[index]
        movements[index] = await record_movement(
            session,
            product_id=change.product_id,
            kind=change.kind,
            delta=change.delta,
            reference=change.reference,
            actor=actor,
            note=change.note,
        )
    return [movements[index] for index in range(len(changes))]


async def set_stock(
    session: AsyncSession,
    *,
    product_id: int,
    set_to: int,
    kind: MovementKind = MovementKind.ADJUSTMENT,
    expected_on_hand: int | None = None,
    reference: str | None = None,
    actor: str | None = None,
    note: str | None = None,
) -> InventoryMovement:
    """Bring the level to `set_to` (a stock count); the movement records the difference."""
    current = await session.scalar(
        select(Product.stock_on_hand).where(Product.id == product_id).with_for_update()
    )
    if current is None:
        raise ProductNotFound(f"No product with id {product_id}.")
    if expected_on_hand is not None and current != expected_on_hand:
        raise _stale(current, expected_on_hand)
    if set_to == current:
        raise NoStockChange(f"The stock is already {current}.", on_hand=current)
    # `current` guards the UPDATE too: on SQLite, where FOR UPDATE locks nothing, a writer
    # that slipped in between makes this a stale compare-and-set instead of a wrong delta.
    return await record_movement(
        session,
        product_id=product_id,
        kind=kind,
        delta=set_to - current,
        reference=reference,
        actor=actor,
        note=note,
        expected_on_hand=current,
    )


@lru_cache(maxsize=32)
def _set_levels_statement(count: int) -> Update:
    """`set_levels`'s guarded UPDATE of `count` products, built once per size: for an
    import's batches, building the two CASEs of a few hundred values each took longer than
    the database took to run the statement.

    Sets `id_N` to `level_N` where its level is still `current_N`."""
    ids = [bindparam(f"id_{index}", type_=Integer()) for index in range(count)]
    current = case(
        *((ids[index], bindparam(f"current_{index}", type_=Integer())) for index in range(count)),
        value=Product.id,
    )
    level = case(
        *((ids[index], bindparam(f"level_{index}", type_=Integer())) for index in range(count)),
        value=Product.id,
    )
    return (
        update(Product)
        .where(Product.id.in_(ids), Product.stock_on_hand == current)
        .values(stock_on_hand=level)
        .execution_options(synchronize_session=False)
    )


async def set_levels(
    session: AsyncSession,
    levels: Mapping[int, int],
    *,
    kind: MovementKind,
    reference: str | None = None,
    actor: str | None = None,
    note: str | None = None,
) -> int:
    """Bring many products to a counted level each (a bulk `set_stock`); flushes only.

    For imports of thousands of rows: one locking read, one guarded UPDATE and one multi-row
    INSERT for the whole set instead of four statements per product. The invariants are the
    same as `record_movement`'s: rows locked in ascending id order, the UPDATE guarded by the
    level it was read at (`StaleStock` when a writer slipped in on SQLite, where FOR UPDATE
    locks nothing), one movement per change carrying the level it left. Products already at
    their level get no movement. Returns the number of movements written.
    """
    if not levels:
        return 0
    ids = sorted(levels)
    locked = await lock_stock(session, ids)
    if missing := [product_id for product_id in ids if product_id not in locked]:
        raise ProductNotFound(f"No product with id {missing[0]}.")
    current = {pid: locked[pid].on_hand for pid in ids}
    changes = {pid: levels[pid] for pid in ids if levels[pid] != current[pid]}
    if not changes:
        return 0
    if any(not 0 <= level <= MAX_STOCK for level in changes.values()):
        raise StockLimitExceeded(f"A level must be between 0 and {MAX_STOCK} units.")
    for pid, level in changes.items():
        # Units held by reservations (pending orders) stay: a count may not go below them.
        # The lock read is current, and no hold can appear while we hold the row locks.
        if level < current[pid] and level < locked[pid].reserved:
            raise InsufficientStock(
                f"Product {pid} cannot be set to {level}: {locked[pid].reserved} units are "
                "reserved; release or let those reservations expire first.",
                product_id=pid,
                requested_level=level,
                reserved=locked[pid].reserved,
                on_hand=current[pid],
            )
    last_movement = {pid: locked[pid].last_movement_at for pid in changes}
    params: dict[str, Any] = {}
    for index, (pid, level) in enumerate(changes.items()):
        params[f"id_{index}"] = pid
        params[f"current_{index}"] = current[pid]
        params[f"level_{index}"] = level
    result = cast(
        CursorResult[Any], await session.execute(_set_levels_statement(len(changes)), params)
    )
    if result.rowcount != len(changes):
        raise StaleStock("Stock changed while the levels were being set; retry.")
    now = utcnow()
    kind_value = kind.value
    # Core, not the ORM's bulk INSERT: plain rows, nothing to track in the session.
    await session.execute(
        insert(_MOVEMENT_TABLE),
        [
            {
                "product_id": pid,
                "kind": kind_value,
                "delta": level - current[pid],
                "quantity_after": level,
                "reference": reference,
                "actor": actor,
                "note": note,
                # Never earlier than the product's last movement: clocks of replicas drift.
                "created_at": max(now, last_movement.get(pid) or now),
            }
            for pid, level in changes.items()
        ],
    )
    for pid, level in changes.items():
        note_available(
            session,
            product_id=pid,
            before=locked[pid].available,
            after=level - locked[pid].reserved,
            threshold=locked[pid].low_stock_threshold,
            on_hand=level,
            cause=reference or kind_value,
        )
    return len(changes)


# Built once: the opening movements of products just inserted at their level (`open_levels`).
_OPEN_LEVELS = insert(_MOVEMENT_TABLE).from_select(
    [
        "product_id",
        "kind",
        "delta",
        "quantity_after",
        "reference",
        "actor",
        "note",
        "created_at",
    ],
    select(
        Product.id,
        bindparam("kind", type_=String()),
        Product.stock_on_hand,
        Product.stock_on_hand,
        bindparam("reference", type_=String()),
        bindparam("actor", type_=String()),
        bindparam("note", type_=String()),
        Product.created_at,
    ).where(Product.sku.in_(bindparam("skus", expanding=True)), Product.stock_on_hand > 0),
)


async def open_levels(
    session: AsyncSession,
    skus: Sequence[str],
    *,
    kind: MovementKind,
    reference: str | None = None,
    actor: str | None = None,
    note: str | None = None,
) -> int:
    """Open the ledger of products this transaction has just inserted (named by SKU) with
    their `stock_on_hand` already at their first level: one movement each from 0 to that
    level (`delta = quantity_after = stock_on_hand`), dated the product's `created_at`; a
    product at 0 gets none. One INSERT ... SELECT from the product rows, so neither the ids
    nor the levels travel through Python. Returns the number of movements written.

    Only for such products, which is what makes the lock read, the guard and the
    last-movement read of `set_levels` unnecessary: a row this transaction inserted and has
    not committed is seen by no other transaction, so nothing can reserve or move it, and a
    product created now has no earlier movement.
    """
    if not skus:
        return 0
    params = {
        "skus": list(skus),
        "kind": kind.value,
        "reference": reference,
        "actor": actor,
        "note": note,
    }
    result = cast(CursorResult[Any], await session.execute(_OPEN_LEVELS, params))
    return result.rowcount


async def _raise_refusal(
    session: AsyncSession, product_id: int, *, delta: int, expected_on_hand: int | None
) -> None:
    """Explain why the guarded UPDATE changed nothing."""
    row = (
        await session.execute(
            select(Product.stock_on_hand, available_quantity().label("available")).where(
                Product.id == product_id
            )
        )
    ).one_or_none()
    if row is None:
        raise ProductNotFound(f"No product with id {product_id}.")
    on_hand, available = int(row.stock_on_hand), int(row.available)
    if expected_on_hand is not None and on_hand != expected_on_hand:
        raise _stale(on_hand, expected_on_hand)
    if delta < 0 and available + delta < 0:
        raise _insufficient(on_hand=on_hand, available=available, delta=delta)
    raise StockLimitExceeded(
        f"The level would exceed {MAX_STOCK} units.", on_hand=on_hand, max_stock=MAX_STOCK
    )


def _insufficient(*, on_hand: int, available: int, delta: int) -> InsufficientStock:
    return InsufficientStock(
        f"Only {available} available; cannot remove {-delta}.",
        available=available,
        on_hand=on_hand,
        reserved=on_hand - available,
        requested=-delta,
    )


def refuse_if_short(locked: LockedStock, delta: int) -> None:
    """Refuse a removal the lock read already shows cannot pass, before writing anything.
    The guarded UPDATE in `record_movement` stays the rule; this only answers sooner."""
    if delta < 0 and locked.available + delta < 0:
        raise _insufficient(on_hand=locked.on_hand, available=locked.available, delta=delta)


def _stale(on_hand: int, expected: int) -> StaleStock:
    return StaleStock(
        f"Expected {expected} on hand but there are {on_hand}; reload and retry.",
        on_hand=on_hand,
        expected_on_hand=expected,
    )


async def _movement_time(session: AsyncSession, product_id: int, at: datetime | None) -> datetime:
    """Never earlier than the product's last movement: clocks of replicas drift."""
    last = await session.scalar(
        select(func.max(InventoryMovement.created_at)).where(
            InventoryMovement.product_id == product_id
        )
    )
    return _not_before(last, at)


def _not_before(last: datetime | None, at: datetime | None) -> datetime:
    """The time of a new movement: `at` (refused when it predates `last`), else now but never
    before `last`, so "the last movement at or before T" stays the level at T."""
    if at is None:
        now = utcnow()
        return max(now, last) if last is not None else now
    if last is not None and at < last:
        raise BackdatedMovement(
            f"The product's ledger already has a movement at {last.isoformat()}."
        )
    return at
