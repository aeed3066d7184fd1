"""Shared Pydantic models: the `Schema` base, list pages, problem details."""

from common.schemas.base import NoBody, Schema
from common.schemas.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    CursorDep,
    CursorPage,
    CursorParams,
    Page,
    PageDep,
    PageParams,
)
from common.schemas.problem import PROBLEM_MEDIA_TYPE, FieldProblem, Problem

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PROBLEM_MEDIA_TYPE",
    "CursorDep",
    "CursorPage",
    "CursorParams",
    "FieldProblem",
    "NoBody",
    "Page",
    "PageDep",
    "PageParams",
    "Problem",
    "Schema",
]
