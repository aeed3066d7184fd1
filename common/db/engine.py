"""Engines and session factories for MySQL (aiomysql) and SQLite (aiosqlite)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from common.config import Settings


def _ensure_sqlite_directory(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver, so BEGIN/SAVEPOINT behave as
        # SQLAlchemy expects (the documented recipe for pysqlite and aiosqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


def build_engine(url: str | URL, settings: Settings) -> AsyncEngine:
    """An async engine tuned for the URL's backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _ensure_sqlite_directory(parsed)
        engine = create_async_engine(
            parsed,
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
        )
        _tune_sqlite(engine, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        return engine
    if parsed.get_backend_name() == "mysql":
        query = dict(parsed.query)
        query.setdefault("charset", "utf8mb4")
        return create_async_engine(
            parsed.set(query=query),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_recycle=settings.db_pool_recycle,
            pool_pre_ping=True,
            connect_args={"connect_timeout": settings.db_connect_timeout},
        )
    raise ValueError(f"unsupported database backend {parsed.get_backend_name()!r}")


def build_session_factory(
    bind: AsyncEngine | Any, **options: Any
) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: the response is built after the edge commits.
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False, **options)


@dataclass
class Database:
    """The engines of one process: the primary, and optionally a read replica."""

    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    read_session_factory: async_sessionmaker[AsyncSession]
    read_engine: AsyncEngine | None = None
    retry_attempts: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = build_engine(settings.database_url, settings)
        read_engine = (
            build_engine(settings.database_read_url, settings)
            if settings.database_read_url
            else None
        )
        return cls(
            engine=engine,
            session_factory=build_session_factory(engine),
            read_session_factory=build_session_factory(read_engine or engine),
            read_engine=read_engine,
            retry_attempts=settings.db_retry_attempts,
        )

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not None:
            await self.read_engine.dispose()
