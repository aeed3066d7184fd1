"""The two list shapes: offset pages for mutable collections, keyset cursors for ledgers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar, get_args

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

ItemT = TypeVar("ItemT")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def item_example(page: type[BaseModel]) -> dict[str, Any] | None:
    """The first documented example of a page's item model (`Page[ProductRead]` ->
    `ProductRead`'s), if it has one."""
    for item in get_args(page.model_fields["items"].annotation):
        extra = getattr(item, "model_config", {}).get("json_schema_extra")
        if isinstance(extra, dict) and extra.get("examples"):
            example: dict[str, Any] = extra["examples"][0]
            return example
    return None


def _page_example(schema: dict[str, Any], page: type[BaseModel]) -> None:
    example = item_example(page)
    if example is not None:
        schema["examples"] = [{"items": [example], "total": 1, "limit": DEFAULT_LIMIT, "offset": 0}]


class Page(BaseModel, Generic[ItemT]):
    # A page of items with examples documents a page of one of them.
    model_config = ConfigDict(json_schema_extra=_page_example)

    items: Sequence[ItemT]
    total: int = Field(ge=0)
    limit: int = Field(ge=1, le=MAX_LIMIT)
    offset: int = Field(ge=0)


class CursorPage(BaseModel, Generic[ItemT]):
    items: Sequence[ItemT]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )


MAX_OFFSET = 10_000_000


class PageParams(BaseModel):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class CursorParams(BaseModel):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=512)


async def _page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


async def _cursor_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
) -> CursorParams:
    return CursorParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(_page_params)]
CursorDep = Annotated[CursorParams, Depends(_cursor_params)]
