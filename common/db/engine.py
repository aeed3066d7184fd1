"""Engines and session factories for MySQL (aiomysql) and SQLite (aiosqlite)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomysql
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from common.config import Settings
from common.db.dialect import CR_CONN_HOST_ERROR, CR_SERVER_LOST
from common.db.replica import ReplicaGuard


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


class _DeadlineConnection(aiomysql.Connection):  # type: ignore[misc]
    """aiomysql's connection with a read timeout, which aiomysql lacks (PyMySQL has one).

    A reply (a result set, or the OK of a commit, rollback or ping) that has not fully arrived
    `read_timeout` seconds after the driver started waiting for it fails as a lost connection
    (2013), the error a reset link raises: SQLAlchemy drops the connection, the request gets
    a 503, and the pool opens fresh links afterwards. Without it, a database or network path
    that goes silent mid-query (no reset, no answer) holds the request and its pool slot
    until TCP itself gives up, which can take many minutes. It is a timeout in the driver,
    not a cancelled request: the connection is closed before anything else sees it, in a
    state SQLAlchemy already knows how to recover from. One timer per reply (the two methods
    every reply is read through), not per packet: a per-read timer cost 20 us a statement.
    """

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline_seconds = read_timeout or None

    async def _read_query_result(self, unbuffered: bool = False) -> Any:
        try:
            async with asyncio.timeout(self._deadline_seconds):
                return await super()._read_query_result(unbuffered=unbuffered)
        except TimeoutError as error:
            raise self._lost() from error

    async def _read_ok_packet(self) -> Any:
        try:
            async with asyncio.timeout(self._deadline_seconds):
                return await super()._read_ok_packet()
        except TimeoutError as error:
            raise self._lost() from error

    def _lost(self) -> aiomysql.OperationalError:
        self.close()
        return aiomysql.OperationalError(
            CR_SERVER_LOST,
            f"Lost connection to MySQL server during query (no reply in {self._deadline_seconds}s)",
        )


def _bounded_mysql_connect(
    url: URL, timeout: float, read_timeout: float = 0
) -> Callable[[], Awaitable[Any]]:
    """A connection factory for the pool whose whole connect is bounded by `timeout`.

    aiomysql's `connect_timeout` covers only the TCP connect. A server, proxy or network path
    that accepts the connection and then never completes the handshake would hold the
    request (and its pool slot) forever; here the handshake and authentication count too.
    """
    # The dialect's own translation of the URL, so driver flags (e.g. FOUND_ROWS) stay as
    # SQLAlchemy expects them.
    args, kwargs = url.get_dialect()().create_connect_args(url)
    kwargs["connect_timeout"] = timeout

    async def connect() -> Any:
        connection = _DeadlineConnection(*args, read_timeout=read_timeout, **kwargs)
        try:
            # `aiomysql.connect()` is exactly these two steps; holding the connection object
            # lets a timed-out handshake close its socket instead of leaking it to the GC
            # (aiomysql cleans up after errors, not after cancellation).
            await asyncio.wait_for(connection._connect(), timeout=timeout)
        except TimeoutError as error:
            connection.close()
            # The driver's own "cannot connect" error, so SQLAlchemy wraps it like every other
            # unreachable-server failure (and `is_unavailable` recognises it).
            raise aiomysql.OperationalError(
                CR_CONN_HOST_ERROR,
                f"Can't connect to MySQL server on {url.host!r} (no handshake in {timeout}s)",
            ) from error
        except BaseException:
            connection.close()
            raise
        return connection

    return connect


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
        if settings.db_wsrep_sync_wait:
            query["init_command"] = f"SET SESSION wsrep_sync_wait = {settings.db_wsrep_sync_wait}"
        parsed = parsed.set(query=query)
        connect_options: dict[str, Any] = (
            {
                "async_creator": _bounded_mysql_connect(
                    parsed, settings.db_connect_timeout, settings.db_read_timeout
                )
            }
            if parsed.get_driver_name() == "aiomysql"
            else {"connect_args": {"connect_timeout": settings.db_connect_timeout}}
        )
        return create_async_engine(
            parsed,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_recycle=settings.db_pool_recycle,
            # A checkout first pings the pooled connection, so links cut while the database
            # was away are replaced by fresh ones and service resumes on its own.
            pool_pre_ping=True,
            **connect_options,
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
    # Set with a replica: decides when its readers fall back to the primary.
    replica_guard: ReplicaGuard | None = None

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
            replica_guard=(
                ReplicaGuard(read_engine, max_lag_seconds=settings.read_replica_max_lag_seconds)
                if read_engine is not None
                else None
            ),
        )

    async def reader(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for lists, reports and exports: the replica's while it keeps up within
        `READ_REPLICA_MAX_LAG_SECONDS`, else (lagging, stopped, down) the primary's."""
        if self.replica_guard is None or await self.replica_guard.usable():
            return self.read_session_factory
        return self.session_factory

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not None:
            await self.read_engine.dispose()
