"""The shared stock ledger: guarded movements, as-of levels, level series, reconciliation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.types import utcnow
from common.inventory.audit import reconcile
from common.inventory.availability import StockStatus, stock_status_expression, stock_status_of
from common.inventory.errors import (
    BackdatedMovement,
    InsufficientStock,
    ProductNotFound,
    StaleStock,
)
from common.inventory.ledger import (
    StockChange,
    record_movement,
    record_movements,
    set_levels,
    set_stock,
)
from common.inventory.levels import LevelPoint, level_as_of, level_series
from common.models import InventoryMovement, MovementKind, Product
from common.reservations.service import Hold, reserve_stock
from tests.fixtures.factories import make_product

NEW_YORK = ZoneInfo("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def on_hand(session: AsyncSession, product_id: int) -> int:
    level = await session.scalar(select(Product.stock_on_hand).where(Product.id == product_id))
    assert level is not None
    return level


async def movement_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(InventoryMovement)) or 0)


# Movements at known instants; the level after each is worked out by hand.
HISTORY = [
    ("2026-03-02T10:00:00", MovementKind.RESTOCK, 10),  # 10
    ("2026-03-02T23:30:00", MovementKind.SALE, -3),  # 7   (New York: Mar 2, 18:30)
    ("2026-03-03T04:30:00", MovementKind.SALE, -2),  # 5   (New York: still Mar 2, 23:30)
    ("2026-03-05T15:00:00", MovementKind.RESTOCK, 20),  # 25
    ("2026-03-10T12:00:00", MovementKind.DAMAGE, -5),  # 20  (after the DST switch of Mar 8)
    ("2026-04-01T03:00:00", MovementKind.SALE, -1),  # 19  (New York: Mar 31, 23:00)
]


@pytest.fixture
async def history(session: AsyncSession) -> int:
    product_id = await make_product(session)
    for at, kind, delta in HISTORY:
        await record_movement(session, product_id=product_id, kind=kind, delta=delta, at=utc(at))
    return product_id


async def test_movement_updates_cached_level_and_records_quantity_after(
    session: AsyncSession,
) -> None:
    product_id = await make_product(session)
    first = await record_movement(
        session, product_id=product_id, kind=MovementKind.RESTOCK, delta=8, reference="PO-7"
    )
    second = await record_movement(
        session, product_id=product_id, kind=MovementKind.SALE, delta=-3, actor="till-2"
    )
    assert (first.quantity_after, second.quantity_after) == (8, 5)
    assert (second.reference, second.actor) == (None, "till-2")
    assert await on_hand(session, product_id) == 5
    assert second.created_at >= first.created_at


async def test_movement_below_zero_is_refused_with_the_available_quantity(
    session: AsyncSession,
) -> None:
    product_id = await make_product(session)
    await record_movement(session, product_id=product_id, kind=MovementKind.RESTOCK, delta=2)
    with pytest.raises(InsufficientStock) as refused:
        await record_movement(session, product_id=product_id, kind=MovementKind.SALE, delta=-3)
    assert refused.value.extra == {"available": 2, "on_hand": 2, "reserved": 0, "requested": 3}
    assert await on_hand(session, product_id) == 2
    assert await movement_count(session) == 1


async def test_movement_of_unknown_product_is_not_found(session: AsyncSession) -> None:
    product_id = await make_product(session)
    with pytest.raises(ProductNotFound):
        await record_movement(
            session, product_id=product_id + 1000, kind=MovementKind.RESTOCK, delta=1
        )
    assert await movement_count(session) == 0


async def test_compare_and_set_refuses_a_stale_level(session: AsyncSession) -> None:
    product_id = await make_product(session)
    await record_movement(session, product_id=product_id, kind=MovementKind.RESTOCK, delta=4)
    with pytest.raises(StaleStock) as refused:
        await set_stock(session, product_id=product_id, set_to=9, expected_on_hand=3)
    assert refused.value.extra == {"on_hand": 4, "expected_on_hand": 3}
    assert await on_hand(session, product_id) == 4


async def test_set_stock_records_the_difference(session: AsyncSession) -> None:
    product_id = await make_product(session)
    await record_movement(session, product_id=product_id, kind=MovementKind.RESTOCK, delta=4)
    movement = await set_stock(session, product_id=product_id, set_to=1, expected_on_hand=4)
    assert (movement.delta, movement.quantity_after, movement.kind) == (-3, 1, "adjustment")


async def test_set_levels_moves_each_product_by_its_difference(session: AsyncSession) -> None:
    ids = [await make_product(session, sku=f"LEVEL-{n}") for n in range(4)]
    await record_movement(session, product_id=ids[0], kind=MovementKind.RESTOCK, delta=4)
    await record_movement(session, product_id=ids[1], kind=MovementKind.RESTOCK, delta=7)
    written = await set_levels(
        session, {ids[0]: 1, ids[1]: 7, ids[2]: 5, ids[3]: 0}, kind=MovementKind.IMPORT
    )
    assert written == 2  # ids[1] and ids[3] are already at their level
    assert [await on_hand(session, product_id) for product_id in ids] == [1, 7, 5, 0]
    # A second call of another size sets levels with a statement of another shape.
    assert await set_levels(session, {ids[2]: 6}, kind=MovementKind.IMPORT) == 1
    movements = (
        await session.execute(
            select(InventoryMovement.product_id, InventoryMovement.delta)
            .where(InventoryMovement.kind == "import")
            .order_by(InventoryMovement.id)
        )
    ).all()
    assert [tuple(row) for row in movements] == [(ids[0], -3), (ids[2], 5), (ids[2], 1)]
    assert await reconcile(session) == []


async def test_set_levels_refuses_an_unknown_product(session: AsyncSession) -> None:
    product_id = await make_product(session)
    with pytest.raises(ProductNotFound):
        await set_levels(session, {product_id: 3, product_id + 1000: 1}, kind=MovementKind.IMPORT)
    assert await on_hand(session, product_id) == 0


async def test_backdating_before_the_last_movement_is_refused(
    session: AsyncSession, history: int
) -> None:
    with pytest.raises(BackdatedMovement):
        await record_movement(
            session,
            product_id=history,
            kind=MovementKind.RESTOCK,
            delta=1,
            at=utc("2026-03-01T00:00:00"),
        )
    assert await on_hand(session, history) == 19


async def test_several_movements_are_all_or_nothing(session: AsyncSession) -> None:
    first = await make_product(session, sku="MULTI-1")
    second = await make_product(session, sku="MULTI-2")
    await record_movements(
        session,
        [
            StockChange(product_id=second, delta=5, kind=MovementKind.RESTOCK),
            StockChange(product_id=first, delta=5, kind=MovementKind.RESTOCK),
        ],
    )
    savepoint = await session.begin_nested()
    with pytest.raises(InsufficientStock):
        await record_movements(
            session,
            [
                StockChange(product_id=second, delta=-6, kind=MovementKind.SALE),
                StockChange(product_id=first, delta=-1, kind=MovementKind.SALE),
            ],
        )
    # The first product's change was applied before the second was refused: the caller's
    # transaction is what makes the pair all-or-nothing.
    await savepoint.rollback()
    assert (await on_hand(session, first), await on_hand(session, second)) == (5, 5)


async def test_movements_are_applied_in_ascending_product_order(session: AsyncSession) -> None:
    first = await make_product(session, sku="ORDER-1")
    second = await make_product(session, sku="ORDER-2")
    movements = await record_movements(
        session,
        [
            StockChange(product_id=second, delta=2, kind=MovementKind.RESTOCK),
            StockChange(product_id=first, delta=3, kind=MovementKind.RESTOCK),
        ],
    )
    # Returned in the caller's order, written (and so locked) lowest product id first.
    assert [m.product_id for m in movements] == [second, first]
    assert movements[1].id < movements[0].id


@pytest.mark.parametrize(
    ("at", "level"),
    [
        ("2026-03-01T00:00:00", 0),
        ("2026-03-02T10:00:00", 10),  # a movement at exactly that instant counts
        ("2026-03-03T04:29:59", 7),
        ("2026-03-31T00:00:00", 20),
        ("2026-04-02T00:00:00", 19),
    ],
)
async def test_level_as_of_matches_the_history(
    session: AsyncSession, history: int, at: str, level: int
) -> None:
    assert await level_as_of(session, product_id=history, at=utc(at)) == level


async def test_daily_levels_follow_store_days_and_carry_forward(
    session: AsyncSession, history: int
) -> None:
    points = await level_series(
        session,
        product_id=history,
        interval="day",
        start=datetime(2026, 3, 1, 12, tzinfo=NEW_YORK),
        end=datetime(2026, 3, 6, 12, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )
    assert points == [
        LevelPoint(date(2026, 3, 1), 0),
        LevelPoint(date(2026, 3, 2), 5),  # 23:30 New York time is still March 2
        LevelPoint(date(2026, 3, 3), 5),
        LevelPoint(date(2026, 3, 4), 5),
        LevelPoint(date(2026, 3, 5), 25),
        LevelPoint(date(2026, 3, 6), 25),
    ]


async def test_weekly_levels_use_iso_weeks(session: AsyncSession, history: int) -> None:
    points = await level_series(
        session,
        product_id=history,
        interval="week",
        start=datetime(2026, 3, 1, tzinfo=NEW_YORK),
        end=datetime(2026, 3, 20, tzinfo=NEW_YORK),
        timezone=NEW_YORK,
    )
    assert points == [
        LevelPoint(date(2026, 2, 23), 0),
        LevelPoint(date(2026, 3, 2), 25),
        LevelPoint(date(2026, 3, 9), 20),
        LevelPoint(date(2026, 3, 16), 20),
    ]


async def test_monthly_levels_end_at_local_midnight(session: AsyncSession, history: int) -> None:
    points = await level_series(
        session,
        product_id=history,
        interval="month",
        start=utc("2026-02-15T00:00:00"),
        end=utc("2026-04-15T00:00:00"),
        timezone=NEW_YORK,
    )
    assert points == [
        LevelPoint(date(2026, 2, 1), 0),
        LevelPoint(date(2026, 3, 1), 19),  # the Apr 1 03:00 UTC sale was on March 31 there
        LevelPoint(date(2026, 4, 1), 19),
    ]


async def test_monthly_levels_in_utc_see_the_same_sale_in_april(
    session: AsyncSession, history: int
) -> None:
    points = await level_series(
        session,
        product_id=history,
        interval="month",
        start=utc("2026-03-01T00:00:00"),
        end=utc("2026-04-15T00:00:00"),
        timezone=ZoneInfo("UTC"),
    )
    assert [point.level for point in points] == [20, 19]


async def test_reconcile_is_clean_after_movements(session: AsyncSession, history: int) -> None:
    assert await reconcile(session) == []


async def test_reconcile_reports_a_cached_level_that_drifted(
    session: AsyncSession, history: int
) -> None:
    await session.execute(update(Product).where(Product.id == history).values(stock_on_hand=3))
    problems = await reconcile(session)
    assert [(p.product_id, p.problem) for p in problems] == [(history, "cached_level_mismatch")]
    assert problems[0].detail == "stock_on_hand is 3, the ledger sums to 19"


async def test_reconcile_reports_a_break_in_the_quantity_chain(
    session: AsyncSession, history: int
) -> None:
    ids = (
        await session.scalars(
            select(InventoryMovement.id)
            .where(InventoryMovement.product_id == history)
            .order_by(InventoryMovement.id)
        )
    ).all()
    third, fourth = ids[2], ids[3]
    await session.execute(
        update(InventoryMovement).where(InventoryMovement.id == third).values(quantity_after=6)
    )
    problems = await reconcile(session)
    # The edited row no longer follows its predecessor, and its successor no longer follows it.
    assert [(p.problem, p.movement_id) for p in problems] == [
        ("broken_chain", third),
        ("broken_chain", fourth),
    ]


@pytest.mark.parametrize(
    ("available", "threshold", "status"),
    [
        (0, 5, StockStatus.OUT_OF_STOCK),
        (-1, 0, StockStatus.OUT_OF_STOCK),
        (1, 5, StockStatus.LOW_STOCK),
        (5, 5, StockStatus.LOW_STOCK),
        (6, 5, StockStatus.IN_STOCK),
        (1, 0, StockStatus.IN_STOCK),
    ],
)
async def test_stock_status_rule_is_the_same_in_sql_and_python(
    session: AsyncSession, available: int, threshold: int, status: StockStatus
) -> None:
    from sqlalchemy import literal

    in_sql = await session.scalar(
        select(stock_status_expression(literal(available), literal(threshold)))
    )
    assert (in_sql, stock_status_of(available, threshold)) == (status.value, status)


async def test_set_levels_never_counts_below_what_reservations_hold(
    session: AsyncSession,
) -> None:
    product_id = await make_product(session)
    await record_movement(session, product_id=product_id, kind=MovementKind.RESTOCK, delta=10)
    await reserve_stock(
        session, [Hold(product_id=product_id, quantity=6)], expires_at=utcnow() + timedelta(hours=1)
    )
    with pytest.raises(InsufficientStock) as refused:
        await set_levels(session, {product_id: 5}, kind=MovementKind.IMPORT)
    assert (refused.value.extra["reserved"], refused.value.extra["on_hand"]) == (6, 10)
    assert await on_hand(session, product_id) == 10
    # Down to exactly what is held is fine, and so is any level above it.
    assert await set_levels(session, {product_id: 6}, kind=MovementKind.IMPORT) == 1
    assert await on_hand(session, product_id) == 6
    assert await reconcile(session) == []
