"""Run a list query as an offset page or as a keyset (cursor) page."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from common.errors import InvalidInput
from common.schemas.fields import MAX_ID
from common.schemas.pagination import CursorPage, CursorParams, Page, PageParams

SchemaT = TypeVar("SchemaT", bound=BaseModel)
_CURSOR_PREFIX = "k1:"
# 1 .. 2**31 - 1 in ASCII digits without leading zeros (ten digits at most).
_CURSOR_ID = re.compile("[1-9][0-9]{0,9}")


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"
    title = "Invalid cursor"


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    params: PageParams,
    *,
    schema: type[SchemaT],
) -> Page[SchemaT]:
    """`{items, total, limit, offset}` for an ordered statement selecting one entity or row."""
    total = await session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    )
    result = await session.execute(statement.limit(params.limit).offset(params.offset))
    rows = result.scalars().all() if _selects_one_entity(statement) else result.mappings().all()
    return Page[schema](  # type: ignore[valid-type]
        items=[schema.model_validate(row) for row in rows],
        total=total or 0,
        limit=params.limit,
        offset=params.offset,
    )


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor of `encode_cursor` names. Anything else (not base64, another prefix,
    digits that are not ASCII, a sign, an id no INT column holds) is `InvalidCursor`: the
    decoded text is checked before `int()` reads it, since `int()` accepts `"٣"`, `"+3"`,
    `" 3"` and `"3_0"`, and an id past the column's range overflows the driver (SQLite's
    64-bit integers) instead of matching nothing."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, binascii.Error) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidCursor("cursor is not one this API issued") from exc
    digits = raw.removeprefix(_CURSOR_PREFIX)
    if digits == raw or not _CURSOR_ID.fullmatch(digits) or int(digits) > MAX_ID:
        raise InvalidCursor("cursor is not one this API issued")
    return int(digits)


async def keyset_paginate(
    session: AsyncSession,
    statement: Select[Any],
    params: CursorParams,
    *,
    id_column: InstrumentedAttribute[int],
    schema: type[SchemaT],
    newest_first: bool = True,
) -> CursorPage[SchemaT]:
    """`{items, next_cursor}` over an append-only table, keyed on its increasing primary key.

    Rows appended while a client pages never shift the pages it has not read yet.
    """
    if params.cursor is not None:
        after = decode_cursor(params.cursor)
        statement = statement.where(id_column < after if newest_first else id_column > after)
    ordered = statement.order_by(id_column.desc() if newest_first else id_column.asc())
    rows = list((await session.scalars(ordered.limit(params.limit + 1))).all())
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = encode_cursor(getattr(rows[-1], id_column.key)) if has_more and rows else None
    return CursorPage[schema](  # type: ignore[valid-type]
        items=[schema.model_validate(row) for row in rows], next_cursor=next_cursor
    )


def _selects_one_entity(statement: Select[Any]) -> bool:
    descriptions = statement.column_descriptions
    return (
        len(descriptions) == 1
        and descriptions[0].get("entity") is not None
        and (descriptions[0].get("expr") is descriptions[0].get("entity"))
    )
