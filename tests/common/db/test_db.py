"""The database kernel on both backends: column types, dialect helpers, transaction retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, func, select, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.db import Money, UTCDateTime, build_engine, build_session_factory
from common.db.dialect import INTERVALS, accumulate, date_bucket, is_retryable, upsert
from common.db.transaction import run_in_transaction
from tests.fixtures.databases import make_settings

scratch = MetaData()
ledger = Table(
    "scratch_ledger",
    scratch,
    Column("id", Integer, primary_key=True),
    Column("day", Date, nullable=False),
    Column("amount", Money, nullable=False),
    Column("at", UTCDateTime, nullable=True),
)
rollup = Table(
    "scratch_rollup",
    scratch,
    Column("day", Date, primary_key=True),
    Column("sku", String(32), primary_key=True),
    Column("units", Integer, nullable=False),
    Column("revenue", Money, nullable=False),
)


@pytest.fixture(scope="module")
async def engine(
    backend_name: str, fresh_database_url: Callable[[str], Any]
) -> AsyncIterator[AsyncEngine]:
    url = await fresh_database_url(backend_name)
    engine = build_engine(url, make_settings(url))
    async with engine.begin() as connection:
        await connection.run_sync(scratch.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with engine.connect() as connection:
        outer = await connection.begin()
        factory = build_session_factory(connection, join_transaction_mode="create_savepoint")
        async with factory() as session:
            yield session
        await outer.rollback()


def python_bucket(interval: str, day: date) -> date:
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    if interval == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


@pytest.mark.parametrize("interval", INTERVALS)
async def test_date_bucket_matches_the_calendar(session: AsyncSession, interval: str) -> None:
    # 30 months across year ends, a leap day and weeks that straddle years.
    first = date(2023, 11, 1)
    days = [first + timedelta(days=offset) for offset in range(915)]
    await session.execute(
        ledger.insert(), [{"day": day, "amount": Decimal("1.00")} for day in days]
    )
    rows = await session.execute(
        select(ledger.c.day, date_bucket(interval, ledger.c.day)).order_by(ledger.c.day)  # type: ignore[arg-type]
    )
    got = {day: bucket for day, bucket in rows}
    assert got == {day: python_bucket(interval, day) for day in days}


async def test_date_bucket_groups_and_sums(session: AsyncSession) -> None:
    await session.execute(
        ledger.insert(),
        [
            {"day": date(2024, 12, 30), "amount": Decimal("10.10")},  # ISO week 1 of 2025
            {"day": date(2025, 1, 5), "amount": Decimal("0.20")},
            {"day": date(2025, 1, 6), "amount": Decimal("3.00")},
        ],
    )
    bucket = date_bucket("week", ledger.c.day)  # type: ignore[arg-type]
    rows = await session.execute(
        select(bucket, func.sum(ledger.c.amount)).group_by(bucket).order_by(bucket)
    )
    assert [(day, Decimal(total).quantize(Decimal("0.01"))) for day, total in rows] == [
        (date(2024, 12, 30), Decimal("10.30")),
        (date(2025, 1, 6), Decimal("3.00")),
    ]


def test_unknown_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown interval"):
        date_bucket("fortnight", ledger.c.day)  # type: ignore[arg-type]


async def test_money_round_trips_exactly(session: AsyncSession) -> None:
    amounts = [Decimal("0.10"), Decimal("19.99"), Decimal("9999999999.99"), Decimal("-0.01")]
    await session.execute(
        ledger.insert(), [{"day": date(2025, 1, 1), "amount": amount} for amount in amounts]
    )
    stored = (await session.scalars(select(ledger.c.amount).order_by(ledger.c.id))).all()
    assert stored == amounts
    assert all(isinstance(value, Decimal) for value in stored)


async def test_money_sums_are_exact_in_cents(session: AsyncSession) -> None:
    await session.execute(
        ledger.insert(), [{"day": date(2025, 1, 1), "amount": Decimal("0.10")}] * 1000
    )
    total = await session.scalar(select(func.sum(ledger.c.amount)))
    assert total == Decimal("100.00")


async def test_timestamps_are_stored_in_utc_and_returned_aware(session: AsyncSession) -> None:
    madrid = datetime(2025, 3, 30, 3, 30, 0, 123456, tzinfo=ZoneInfo("Europe/Madrid"))
    await session.execute(ledger.insert().values(day=date(2025, 3, 30), amount=1, at=madrid))
    stored = await session.scalar(select(ledger.c.at))
    assert stored == madrid
    assert stored is not None
    assert stored.tzinfo is UTC
    assert (stored.hour, stored.microsecond) == (1, 123456)


async def test_naive_timestamps_are_refused(session: AsyncSession) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        await session.execute(
            ledger.insert().values(day=date(2025, 1, 1), amount=1, at=datetime(2025, 1, 1))  # noqa: DTZ001
        )


async def test_upsert_inserts_then_accumulates(session: AsyncSession) -> None:
    dialect = session.bind.dialect.name
    statement = upsert(
        dialect,
        rollup,
        conflict_columns=["day", "sku"],
        set_=lambda new: {
            "units": rollup.c.units + new.units,
            "revenue": rollup.c.revenue + new.revenue,
        },
    )
    row = {"day": date(2025, 5, 1), "sku": "MUG-1"}
    await session.execute(statement, [{**row, "units": 2, "revenue": Decimal("10.50")}])
    await session.execute(statement, [{**row, "units": 3, "revenue": Decimal("0.25")}])
    await session.execute(statement, [{**row, "sku": "MUG-2", "units": 1, "revenue": 1}])
    rows = (await session.execute(select(rollup).order_by(rollup.c.sku))).all()
    assert [(r.sku, r.units, r.revenue) for r in rows] == [
        ("MUG-1", 5, Decimal("10.75")),
        ("MUG-2", 1, Decimal("1.00")),
    ]


async def test_accumulate_is_one_cached_statement_that_adds_up(session: AsyncSession) -> None:
    dialect = session.bind.dialect
    statement = accumulate(dialect, rollup, key=["day", "sku"], columns=["units", "revenue"])
    # Compiled once per dialect and table, and cacheable (an upsert construct is neither).
    assert (
        accumulate(dialect, rollup, key=["day", "sku"], columns=["units", "revenue"]) is statement
    )
    assert statement._generate_cache_key() is not None
    row = {"day": date(2025, 5, 1), "sku": "MUG-1"}
    await session.execute(statement, {**row, "units": 2, "revenue": Decimal("10.50")})
    await session.execute(statement, {**row, "units": 3, "revenue": Decimal("0.25")})
    await session.execute(statement, {**row, "sku": "MUG-2", "units": 1, "revenue": Decimal(1)})
    rows = (await session.execute(select(rollup).order_by(rollup.c.sku))).all()
    assert [(r.sku, r.units, r.revenue) for r in rows] == [
        ("MUG-1", 5, Decimal("10.75")),
        ("MUG-2", 1, Decimal("1.00")),
    ]


@pytest.mark.mysql_only
async def test_deadlocked_unit_of_work_is_rerun_until_it_succeeds(engine: AsyncEngine) -> None:
    """Two transactions lock two rows in opposite orders: InnoDB kills one (1213), and the
    runner reruns it from scratch, so both units of work complete exactly once."""
    async with engine.begin() as connection:
        await connection.execute(
            ledger.insert(),
            [
                {"id": 1, "day": date(2025, 1, 1), "amount": 0},
                {"id": 2, "day": date(2025, 1, 1), "amount": 0},
            ],
        )
    factory = build_session_factory(engine)
    both_hold_first_lock = asyncio.Barrier(2)
    attempts: list[str] = []

    def transfer(first: int, second: int, name: str) -> Callable[[AsyncSession], Any]:
        async def work(session: AsyncSession) -> None:
            attempts.append(name)
            for index, row_id in enumerate((first, second)):
                await session.execute(
                    update(ledger).where(ledger.c.id == row_id).values(amount=ledger.c.amount + 1)
                )
                if index == 0 and len(attempts) <= 2:
                    await asyncio.wait_for(both_hold_first_lock.wait(), timeout=5)

        return work

    await asyncio.gather(
        run_in_transaction(factory, transfer(1, 2, "a"), attempts=5),
        run_in_transaction(factory, transfer(2, 1, "b"), attempts=5),
    )
    async with engine.connect() as connection:
        amounts = (
            (await connection.execute(select(ledger.c.amount).order_by(ledger.c.id)))
            .scalars()
            .all()
        )
        await connection.execute(ledger.delete())
        await connection.commit()
    assert amounts == [Decimal("2.00"), Decimal("2.00")]
    assert len(attempts) == 3  # one of the two was chosen as the deadlock victim and rerun


async def test_non_transient_errors_are_not_retried(engine: AsyncEngine) -> None:
    factory = build_session_factory(engine)
    calls = 0

    async def work(session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        await session.execute(ledger.insert().values(id=None, day=None, amount=1))

    with pytest.raises(IntegrityError) as raised:
        await run_in_transaction(factory, work, attempts=5)
    assert not is_retryable(raised.value)
    assert calls == 1
