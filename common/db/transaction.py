"""Run a unit of work in its own transaction, retrying it on deadlock and lock-wait errors
(on Galera also certification failures, which arrive as deadlocks)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.dialect import is_retryable, violates_unique
from common.errors import AppError

T = TypeVar("T")
# The longest pause between two attempts (reached from the sixth attempt on).
BACKOFF_CAP_SECONDS = 0.5
logger = logging.getLogger(__name__)


async def run_in_transaction(
    session_factory: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    attempts: int = 5,
) -> T:
    """Open a session, run `work`, commit; rerun everything from scratch on a transient conflict.

    `work` must be safe to rerun: it reads what it needs inside the transaction it is given.
    """
    for attempt in range(1, attempts + 1):
        async with session_factory() as session:
            try:
                result = await work(session)
                await session.commit()
                return result
            except DBAPIError as error:
                await session.rollback()
                if attempt == attempts or not is_retryable(error):
                    raise
                logger.warning(
                    "transient database conflict, retrying",
                    extra={
                        "attempt": attempt,
                        "error_code": getattr(error.orig, "args", [None])[0],
                    },
                )
        # Jittered exponential backoff so the contenders do not collide again in step, capped
        # so that a cluster's larger budget (docs/scaling.md) waits seconds, not minutes.
        pause = min(BACKOFF_CAP_SECONDS, 0.01 * 2**attempt)
        await asyncio.sleep(random.uniform(0, pause))  # noqa: S311
    raise AssertionError("unreachable")  # pragma: no cover


async def flush_unique(
    session: AsyncSession, table: str, conflicts: dict[str, Callable[[], AppError]]
) -> None:
    """Flush, turning a lost race on a unique column of `table` into that column's error.

    Services check uniqueness first for a clear message, but cannot see a concurrent writer's
    uncommitted row; the database's unique key can. Like any failed flush this ends the
    transaction: the error propagates and the request edge rolls back.
    """
    try:
        await session.flush()
    except IntegrityError as error:
        for column, conflict in conflicts.items():
            if violates_unique(error, table, column):
                raise conflict() from error
        raise
