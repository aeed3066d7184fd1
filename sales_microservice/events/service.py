"""Reading the event log (the outbox itself lives in `common.events`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from common.db.pagination import keyset_paginate
from common.events.outbox import events_statement
from common.events.types import EventType
from common.models.events import OutboxEvent
from common.schemas import CursorPage, CursorParams
from sales_microservice.events.schemas import EventRead


async def list_events(
    session: AsyncSession, cursor: CursorParams, *, event_type: EventType | None
) -> CursorPage[EventRead]:
    """Oldest first, so a poller keeps the last `next_cursor` and asks for what came after."""
    return await keyset_paginate(
        session,
        events_statement(event_type=event_type.value if event_type else None),
        cursor,
        id_column=OutboxEvent.id,
        schema=EventRead,
        newest_first=False,
    )
