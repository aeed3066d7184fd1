"""`/api/v1/events`: the outbox as a log integrators may poll (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from common.events.types import EventType
from common.identity.access import AdminUser
from common.schemas import CursorDep, CursorPage
from common.web import SessionDep, problem_responses
from sales_microservice.events import service
from sales_microservice.events.schemas import EventRead

router = APIRouter(prefix="/events", tags=["events"])


@router.get(
    "",
    response_model=CursorPage[EventRead],
    summary="Read the event log",
    responses=problem_responses(401, 403, 422),
)
async def list_events(
    _admin: AdminUser,
    session: SessionDep,
    cursor: CursorDep,
    event_type: Annotated[EventType | None, Query(alias="type")] = None,
) -> CursorPage[EventRead]:
    """Committed events, oldest first; keep `next_cursor` and pass it back to read on."""
    return await service.list_events(session, cursor, event_type=event_type)
