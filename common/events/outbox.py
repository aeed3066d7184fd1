"""Writing events into the outbox, in the caller's transaction, and reading the log.

`emit` only adds a row to the session: it is flushed and committed with the change that
caused it (the ORM batches several events of one transaction into one INSERT), and it
vanishes with it on rollback. So the log holds exactly the events of committed changes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Select, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.base import Base
from common.db.types import utcnow
from common.events.types import EventType
from common.models.events import OutboxEvent

# Columns never sent outside (secrets and hashes).
PRIVATE_COLUMNS = frozenset({"password_hash", "secret"})


def _plain(value: Any) -> Any:
    """A column value as the API's JSON has it: money and ids as the schemas write them."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        # As the API writes instants: UTC with a `Z`.
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def entity(row: Base, **extra: Any) -> dict[str, Any]:
    """A model row's loaded columns (what the API returns of it), plus `extra`. Reads only
    what is loaded: nothing here may trigger a query (relations are `lazy="raise"`)."""
    state = inspect(row)
    values = {
        attribute.key: _plain(state.dict[attribute.key])
        for attribute in state.mapper.column_attrs
        if attribute.key in state.dict and attribute.key not in PRIVATE_COLUMNS
    }
    return {**values, **{key: _plain(value) for key, value in extra.items()}}


def emit(
    session: AsyncSession,
    event_type: EventType,
    data: Mapping[str, Any],
    *,
    changes: Mapping[str, Any] | None = None,
) -> OutboxEvent:
    """Add one event to the caller's transaction (not flushed: it commits with the change).

    `data` is the entity as the API returns it, `changes` what changed (`{field: [old, new]}`
    or whatever the type documents)."""
    payload: dict[str, Any] = {"data": dict(data)}
    if changes is not None:
        payload["changes"] = dict(changes)
    event = OutboxEvent(
        event_id=str(uuid.uuid4()),
        type=event_type.value,
        occurred_at=utcnow(),
        payload=json.dumps(payload, default=_plain, separators=(",", ":")),
    )
    session.add(event)
    return event


def envelope(event: OutboxEvent) -> dict[str, Any]:
    """What webhooks, the broker and `GET /events` carry: id, type, time, data (+ changes)."""
    return {
        "id": event.event_id,
        "type": event.type,
        "occurred_at": _plain(event.occurred_at),
        **json.loads(event.payload),
    }


def events_statement(*, event_type: str | None = None) -> Select[tuple[OutboxEvent]]:
    statement = select(OutboxEvent)
    if event_type is not None:
        statement = statement.where(OutboxEvent.type == event_type)
    return statement
