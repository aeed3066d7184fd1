from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldProblem(BaseModel):
    """One invalid input: where it is (`in` + `pointer` or `name`) and what is wrong with it."""

    model_config = ConfigDict(populate_by_name=True)

    location: Literal["body", "query", "path", "header", "cookie"] = Field(alias="in")
    pointer: str | None = Field(
        default=None, description="JSON Pointer into the body, e.g. `#/items/0/quantity`"
    )
    name: str | None = Field(default=None, description="Parameter name for query/path/header")
    detail: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine-readable `code`."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI identifying the problem type")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable identifier clients can branch on")
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None
