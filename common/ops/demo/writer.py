"""The demo store's bulk writer: rows buffered per table, sent as multi-row INSERTs, explicit ids.

Rows carry explicit ids, so each ledger's `quantity_after` chain and each refund's
`refund_of_id` are known before insertion; the first free id of a table comes from `next_id`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from common.db import Base

BATCH_ROWS = 5000


def table_of(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


class BatchWriter:
    """Buffers rows per table and sends them as multi-row INSERTs."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.buffers: dict[Table, list[dict[str, Any]]] = defaultdict(list)

    async def add(self, table: Table, row: dict[str, Any]) -> None:
        rows = self.buffers[table]
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            # Everything, referenced tables first: a full batch of sales may point at orders
            # that are still buffered.
            await self.flush()

    async def flush(self) -> None:
        # Insertion order of tables: referenced rows first.
        for table in Base.metadata.sorted_tables:
            if self.buffers.get(table):
                await self._send(table)

    async def _send(self, table: Table) -> None:
        await self.connection.execute(insert(table), self.buffers[table])
        self.buffers[table] = []


async def next_id(connection: AsyncConnection, table: Table) -> int:
    return int(await connection.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1
