"""The stock ledger, shared by every service that moves stock (catalog, sales, orders).

Invariants, kept in SQL rather than by reading a level into Python and writing it back:

- `product.stock_on_hand` never goes below zero: the only writer is the guarded
  `UPDATE product SET stock_on_hand = stock_on_hand + :delta WHERE ... >= 0` in
  `record_movement`, whose row count says whether the change happened.
- Every change appends one `inventory_movement` in the same transaction, with the level it
  left (`quantity_after`), read back under the row lock the UPDATE took. So the cached level
  always equals the sum of the ledger, and `quantity_after` forms an unbroken chain;
  `reconcile` proves both.
- Several products are locked in ascending id order (`record_movements`), so two writers
  touching the same products can never wait on each other in a cycle.
- A product's movements never go back in time: `created_at` is at least that of its previous
  movement, so "the last movement at or before T" is the level at T (`level_as_of`).

- Reservations hold stock without moving it: `available = on hand - reserved`, where reserved
  sums the active, unexpired reservation items (`reserved_quantity`, evaluated at query
  time, so expiry needs no sweeper). A removal never takes held units: `record_movement`
  guards `stock_on_hand + delta >= reserved` under the product's row lock (`lock_stock`).
  Creating and confirming reservations lives in `common.reservations`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    CursorResult,
    Integer,
    Select,
    String,
    Subquery,
    Table,
    Update,
    bindparam,
    case,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import with_expression
from sqlalchemy.orm.interfaces import ORMOption

from common.db.dialect import begin_writing
from common.db.types import UTCDateTime, utcnow
from common.errors import Conflict, InvalidInput, NotFound
from common.models.catalog import MAX_STOCK, Product
from common.models.inventory import (
    InventoryMovement,
    MovementKind,
    ReservationStatus,
    StockReservationItem,
)
from common.models.sales import SalesDaily

LevelInterval = Literal["day", "week", "month"]
LEVEL_INTERVALS: tuple[LevelInterval, ...] = ("day", "week", "month")
# A chart of more points than this is a request mistake, not a chart.
MAX_LEVEL_POINTS = 1000
# The table itself, for Core bulk INSERTs (the ORM's bulk path costs per row).
_MOVEMENT_TABLE = cast(Table, InventoryMovement.__table__)


class StockStatus(StrEnum):
    IN_STOCK = "in_stock"
    LOW_STOCK = "low_stock"
    OUT_OF_STOCK = "out_of_stock"


# --- errors ----------------------------------------------------------------------------------


class ProductNotFound(NotFound):
    code = "product_not_found"
    title = "Product not found"


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    title = "Not enough stock"


class StaleStock(Conflict):
    code = "stale_stock"
    title = "Stock changed since it was read"


class StockLimitExceeded(Conflict):
    code = "stock_limit_exceeded"
    title = "Stock level too high"


class NoStockChange(InvalidInput):
    code = "no_stock_change"
    title = "The change moves no stock"


class BackdatedMovement(InvalidInput):
    code = "backdated_movement"
    title = "Movement predates the product's ledger"


# --- availability: the one place that knows what "available" means --------------------------


def _now_at_execution() -> BindParameter[datetime]:
    """The current time, taken each time a statement runs rather than when it is built, so a
    reservation stops counting the moment it expires, whoever runs the query and however
    long the statement object lives."""
    return bindparam("now", callable_=utcnow, type_=UTCDateTime(), unique=True)


def _holding() -> list[ColumnElement[bool]]:
    """Reservation items that hold stock: active and not yet expired. Expiry needs no sweeper:
    an item past `expires_at` stops holding at once."""
    return [
        StockReservationItem.status == ReservationStatus.ACTIVE.value,
        StockReservationItem.expires_at > _now_at_execution(),
    ]


def reserved_quantity() -> ColumnElement[int]:
    """Units of `Product` held by active, unexpired reservations (one index range each)."""
    held = (
        select(func.coalesce(func.sum(StockReservationItem.quantity), 0))
        .where(StockReservationItem.product_id == Product.id, *_holding())
        .correlate(Product)
        .scalar_subquery()
    )
    return cast(ColumnElement[int], held)


def products_with_holds() -> Select[tuple[int]]:
    """Ids of the products that active, unexpired reservations hold stock of (a range of the
    (status, expires_at, product_id) index): the only ones whose available stock is below
    what they have on hand."""
    return select(StockReservationItem.product_id).where(*_holding())


def held_by_product() -> Subquery:
    """Units held per product by active, unexpired reservations, as a derived table (`held`,
    keyed by `product_id`) to outer-join where many products are read at once: one grouped
    range of the holds' (status, expires_at, product_id) index, instead of a correlated sum
    per product (`reserved_quantity`, right for a page of rows, not for the whole catalog)."""
    return (
        select(
            StockReservationItem.product_id,
            func.sum(StockReservationItem.quantity).label("held"),
        )
        .where(*_holding())
        .group_by(StockReservationItem.product_id)
        .subquery("held")
    )


def available_quantity() -> ColumnElement[int]:
    return Product.stock_on_hand - reserved_quantity()


@dataclass(frozen=True)
class LockedStock:
    """A product as its row lock shows it: nobody else can change these until commit."""

    product_id: int
    status: str
    price: Decimal
    cost_price: Decimal | None
    category_id: int
    on_hand: int
    reserved: int
    # When the product's ledger last moved: a new movement is dated no earlier.
    last_movement_at: datetime | None

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@lru_cache(maxsize=1)
def _lock_stock_statements() -> tuple[Select[Any], Select[Any]]:
    """Built once: this is on every sale's path, and building and hashing the statements cost
    more than the database takes to answer them."""
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    # One index probe per product (product_id, created_at), read in the same round trip.
    last_movement = (
        select(func.max(InventoryMovement.created_at))
        .where(InventoryMovement.product_id == Product.id)
        .scalar_subquery()
    )
    locking_read = (
        select(
            Product.id,
            Product.status,
            Product.price,
            Product.cost_price,
            Product.category_id,
            Product.stock_on_hand,
            last_movement.label("last_movement_at"),
        )
        .where(Product.id.in_(ids))
        .order_by(Product.id)
        .with_for_update()
    )
    holds = (
        select(StockReservationItem.product_id, func.sum(StockReservationItem.quantity))
        .where(StockReservationItem.product_id.in_(ids), *_holding())
        .group_by(StockReservationItem.product_id)
        .with_for_update(read=True)
    )
    return locking_read, holds


async def lock_stock(session: AsyncSession, product_ids: Iterable[int]) -> dict[int, LockedStock]:
    """Lock the products' rows in ascending id order and read, under those locks, what is on
    hand and what reservations hold. Unknown ids are simply absent from the result.

    Every writer that adds a reservation item holds its product's row lock, so once we hold
    it no new hold can appear. The sum is a locking read because MySQL's plain reads see the
    transaction's snapshot, which may predate a hold committed just before our lock.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    await begin_writing(session, cast(Table, Product.__table__), ids)
    locking_read, holds = _lock_stock_statements()
    rows = (await session.execute(locking_read, {"ids": ids})).all()
    held_rows = await session.execute(holds, {"ids": ids})
    held = {product_id: int(units) for product_id, units in held_rows.all()}
    return {
        row.id: LockedStock(
            product_id=row.id,
            status=row.status,
            price=row.price,
            cost_price=row.cost_price,
            category_id=row.category_id,
            on_hand=row.stock_on_hand,
            reserved=int(held.get(row.id, 0)),
            last_movement_at=row.last_movement_at,
        )
        for row in rows
    }


COVER_WINDOW_DAYS = 30


async def days_of_cover(
    session: AsyncSession, available: Mapping[int, int], *, today: date
) -> dict[int, Decimal | None]:
    """Days the available units last at the average daily units sold (net of refunds) over
    the 30 store-local days ending `today`, per product id; null for a product that sold
    nothing in that window (no rate of sale is known, and a made-up one would mislead).

    Reads the `sales_daily` rollup: at most 30 rows per product."""
    if not available:
        return {}
    sold = (
        await session.execute(
            select(
                SalesDaily.product_id,
                func.sum(SalesDaily.units_sold - SalesDaily.units_refunded),
            )
            .where(
                SalesDaily.product_id.in_(list(available)),
                SalesDaily.business_date > today - timedelta(days=COVER_WINDOW_DAYS),
                SalesDaily.business_date <= today,
            )
            .group_by(SalesDaily.product_id)
        )
    ).tuples()
    rate = {product_id: Decimal(units) / COVER_WINDOW_DAYS for product_id, units in sold}
    return {
        product_id: (units / rate[product_id]).quantize(Decimal("0.1"))
        if rate.get(product_id, 0) > 0
        else None
        for product_id, units in available.items()
    }


def with_reserved() -> ORMOption:
    """Load `Product.reserved` with the query, so `Product` rows can report availability."""
    return with_expression(Product.reserved, reserved_quantity())


def stock_status_of(available: int, threshold: int) -> StockStatus:
    """The rule that `stock_status_expression` states in SQL (a test holds them equal)."""
    if available <= 0:
        return StockStatus.OUT_OF_STOCK
    if available <= threshold:
        return StockStatus.LOW_STOCK
    return StockStatus.IN_STOCK


def stock_status_expression(
    available: ColumnElement[int], threshold: ColumnElement[int] | None = None
) -> ColumnElement[str]:
    limit = Product.low_stock_threshold if threshold is None else threshold
    return case(
        (available <= 0, StockStatus.OUT_OF_STOCK.value),
        (available <= limit, StockStatus.LOW_STOCK.value),
        else_=StockStatus.IN_STOCK.value,
    )


# --- writing the ledger ----------------------------------------------------------------------


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
    if locked is None and delta < 0:
        # Units held by reservations are not ours to take: a removal may only go down to
        # what they hold. (Confirming a reservation marks it confirmed first, so its own
        # units no longer count here and become the sale.)
        locked = (await lock_stock(session, [product_id])).get(product_id)
        if locked is None:
            raise ProductNotFound(f"No product with id {product_id}.")
    floor = locked.reserved if locked is not None and delta < 0 else 0
    # With the caller's lock read, the date is known (and a backdate refused) before writing.
    created_at = _not_before(locked.last_movement_at, at) if locked is not None else None
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

    if locked is not None:
        # Nobody else could move the product since our lock read it, and the guard held:
        # the level is exactly the one we read plus `delta`.
        quantity_after = locked.on_hand + delta
    else:
        # The UPDATE holds the row lock until commit; FOR UPDATE makes this a current read of
        # the level it left, on MySQL whatever snapshot the transaction started with.
        level = await session.scalar(
            select(Product.stock_on_hand).where(Product.id == product_id).with_for_update()
        )
        assert level is not None  # the row was just updated in this transaction
        quantity_after = level
    if created_at is None:
        created_at = await _movement_time(session, product_id, at)
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
    return movement


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


# --- reading levels --------------------------------------------------------------------------


def _last_level(
    product_id: ColumnElement[int], at: ColumnElement[datetime] | datetime
) -> Select[tuple[int]]:
    return (
        select(InventoryMovement.quantity_after)
        .where(InventoryMovement.product_id == product_id, InventoryMovement.created_at <= at)
        .order_by(InventoryMovement.created_at.desc(), InventoryMovement.id.desc())
        .limit(1)
    )


@lru_cache(maxsize=256)
def _levels_statement(count: int) -> CompoundSelect[Any]:
    """`levels_as_of`'s statement for `count` products, built once per size: assembling a
    few hundred SELECTs costs more than the database takes to answer them."""
    at = bindparam("at", type_=UTCDateTime())
    parts = []
    for index in range(count):
        product_id = bindparam(f"product_{index}", type_=Integer())
        parts.append(
            select(
                product_id.label("product_id"),
                _last_level(product_id, at).scalar_subquery().label("level"),
            )
        )
    return union_all(*parts)


def level_as_of_expression(at: datetime) -> ColumnElement[int]:
    """`Product`'s level at `at` as a correlated subquery, for filtering on past levels.

    MySQL and MariaDB can only seek a correlated subquery to the product, then walk back from
    its newest movement to `at`; `levels_as_of` seeks straight to the row and is preferred
    wherever the products are known first.
    """
    last = _last_level(Product.id.expression, at).correlate(Product).scalar_subquery()
    return func.coalesce(last, 0)


async def levels_as_of(
    session: AsyncSession, product_ids: Sequence[int], at: datetime
) -> dict[int, int]:
    """Each product's level at `at`: its last movement's `quantity_after` at or before it (0
    before any). One statement; for each product one descent of the (product_id, created_at)
    index to exactly that row, however long the ledger."""
    if not product_ids:
        return {}
    unique_ids = list(dict.fromkeys(product_ids))
    params: dict[str, Any] = {f"product_{i}": pid for i, pid in enumerate(unique_ids)}
    rows = (await session.execute(_levels_statement(len(unique_ids)), {**params, "at": at})).all()
    return {int(row.product_id): int(row.level or 0) for row in rows}


async def level_as_of(session: AsyncSession, *, product_id: int, at: datetime) -> int:
    if await session.scalar(select(Product.id).where(Product.id == product_id)) is None:
        raise ProductNotFound(f"No product with id {product_id}.")
    return (await levels_as_of(session, [product_id], at))[product_id]


@dataclass(frozen=True)
class LevelPoint:
    period_start: date  # the bucket's first local day
    level: int  # the level at the end of the bucket (or at `end` for the last one)


def bucket_starts(
    interval: LevelInterval, start: datetime, end: datetime, timezone: ZoneInfo
) -> list[date]:
    """Local first days of the buckets that `[start, end]` touches (weeks start on Monday)."""
    first = _bucket_floor(interval, start.astimezone(timezone).date())
    last = end.astimezone(timezone).date()
    starts = []
    day = first
    while day <= last:
        starts.append(day)
        if len(starts) > MAX_LEVEL_POINTS:
            raise InvalidInput(
                f"More than {MAX_LEVEL_POINTS} {interval} buckets; narrow the range.",
                max_points=MAX_LEVEL_POINTS,
            )
        day = _next_bucket(interval, day)
    return starts


def _bucket_floor(interval: LevelInterval, day: date) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_bucket(interval: LevelInterval, day: date) -> date:
    if interval == "day":
        return day + timedelta(days=1)
    if interval == "week":
        return day + timedelta(weeks=1)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _local_midnight(day: date, timezone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone).astimezone(UTC)


async def level_series(
    session: AsyncSession,
    *,
    product_id: int,
    interval: LevelInterval,
    start: datetime,
    end: datetime,
    timezone: ZoneInfo,
) -> list[LevelPoint]:
    """The level at the end of each bucket, carried forward through buckets without movement.

    Reads one opening level and the movements inside the range, both through the
    (product_id, created_at) index: the cost follows the range, never the whole ledger.
    """
    if end < start:
        raise InvalidInput("`end` must not be before `start`.")
    starts = bucket_starts(interval, start, end, timezone)
    edges = [_local_midnight(_next_bucket(interval, day), timezone) for day in starts]
    # The last bucket may still be running: its level is the one at `end`.
    edges[-1] = min(edges[-1], end + timedelta(microseconds=1))
    opening_at = _local_midnight(starts[0], timezone) - timedelta(microseconds=1)
    level = (await levels_as_of(session, [product_id], opening_at))[product_id]
    movements = (
        await session.execute(
            select(InventoryMovement.created_at, InventoryMovement.quantity_after)
            .where(
                InventoryMovement.product_id == product_id,
                InventoryMovement.created_at > opening_at,
                InventoryMovement.created_at < edges[-1],
            )
            .order_by(InventoryMovement.created_at, InventoryMovement.id)
        )
    ).all()
    points = []
    cursor = 0
    for day, edge in zip(starts, edges, strict=True):
        while cursor < len(movements) and movements[cursor].created_at < edge:
            level = movements[cursor].quantity_after
            cursor += 1
        points.append(LevelPoint(period_start=day, level=level))
    return points


# --- auditing --------------------------------------------------------------------------------


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
