"""Web plumbing shared by both services."""

from common.db.unit_of_work import UnitOfWork
from common.web.app import API_PREFIX, create_app
from common.web.dependencies import (
    DatabaseDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    UnitOfWorkDep,
)
from common.web.openapi import problem_responses

__all__ = [
    "API_PREFIX",
    "DatabaseDep",
    "ReadSessionDep",
    "SessionDep",
    "SettingsDep",
    "UnitOfWork",
    "UnitOfWorkDep",
    "create_app",
    "problem_responses",
]
