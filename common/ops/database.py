"""The database an operator's command opens: the configured one, with no per-reply timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from common.config import Settings
from common.db.engine import Database


@asynccontextmanager
async def open_bulk_database(settings: Settings) -> AsyncIterator[Database]:
    # An operator runs these and can stop them; one statement of a bulk command (rebuilding
    # the rollups of millions of sales) may rightly take longer than a request ever should.
    database = Database.from_settings(settings.model_copy(update={"db_read_timeout": 0}))
    try:
        yield database
    finally:
        await database.dispose()
