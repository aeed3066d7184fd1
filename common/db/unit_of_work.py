"""`UnitOfWork`: the whole of a stock or money write in one transaction, rerun on deadlocks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from common.db.engine import Database
from common.db.transaction import run_in_transaction

T = TypeVar("T")


class UnitOfWork:
    """For writes that lock stock or money: runs the work in its own transaction and reruns
    all of it on deadlock or lock-wait errors."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await run_in_transaction(
            self._database.session_factory, work, attempts=self._database.retry_attempts
        )
