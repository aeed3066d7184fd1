"""Request-scoped dependencies: one session per request, committed at the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.engine import Database
from common.db.unit_of_work import UnitOfWork

# Every dependency is `async def`, even those that await nothing: FastAPI runs a plain `def`
# dependency in its thread pool, a thread handoff on every
# request (`tests/common/web/test_web.py` walks every route to check).


def database_of(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    return database_of(request)


async def get_app_settings(request: Request) -> Settings:
    return settings_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session. The transaction commits once, after the endpoint returns and
    before the response is sent (the dependency has function scope); any error rolls it back."""
    async with database_of(request).session_factory() as session:
        yield session
        await session.commit()


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session on the read replica when `DATABASE_READ_URL` is set and the replica keeps up,
    else on the primary."""
    async with (await database_of(request).reader())() as session:
        yield session


async def get_unit_of_work(request: Request) -> UnitOfWork:
    return UnitOfWork(database_of(request))


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
