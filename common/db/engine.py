"""Engines and session factories for MySQL (asyncmy) and SQLite (aiosqlite)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncmy
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolResetState

from common.config import Settings
from common.db.dialect import CR_CONN_HOST_ERROR
from common.db.replica import ReplicaGuard

_log = logging.getLogger(__name__)


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


def _bounded_mysql_connect(url: URL, timeout: float, read_timeout: float) -> Callable[[], Any]:
    """A connection factory for the pool whose whole connect is bounded by `timeout`.

    asyncmy's `connect_timeout` covers only the TCP connect, and its `read_timeout` bounds
    each wait for a reply. A server, proxy or network path that accepts the connection and then
    never completes the handshake is given up on after `timeout` here, the handshake and
    authentication included. Cancelling asyncmy mid-read closes its socket, so nothing leaks.
    """
    # The dialect's own translation of the URL, so driver flags (e.g. FOUND_ROWS) stay as
    # SQLAlchemy expects them.
    args, kwargs = url.get_dialect()().create_connect_args(url)
    # asyncmy reads "no read timeout" as None; a reply that has not arrived in time closes
    # the link and fails as a lost connection (2013), a 503.
    kwargs.update(connect_timeout=timeout, read_timeout=read_timeout or None)

    async def connect() -> Any:
        # asyncmy's stub leaves `Connection.__init__` untyped.
        connection = asyncmy.Connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        try:
            await asyncio.wait_for(connection.connect(), timeout=timeout)
        except TimeoutError as error:
            connection.close()
            # The driver's own "cannot connect" error, so SQLAlchemy wraps it like every other
            # unreachable-server failure (and `is_unavailable` recognises it).
            raise asyncmy.errors.OperationalError(
                CR_CONN_HOST_ERROR,
                f"Can't connect to MySQL server on {url.host!r} (no handshake in {timeout}s)",
            ) from error
        return connection

    return connect


def mysql_url(url: URL) -> URL:
    """`url` on the driver the services use: asyncmy. `mysql+aiomysql://` URLs from existing
    deployments keep working, mapped with a warning (aiomysql breaks under uvloop when the
    server has closed a pooled connection, aiomysql issue 966)."""
    if url.get_driver_name() == "aiomysql":
        _log.warning(
            "a database URL names the aiomysql driver, which is no longer used: connecting "
            "with asyncmy instead; write mysql+asyncmy:// to silence this warning"
        )
        return url.set(drivername="mysql+asyncmy")
    if url.get_driver_name() != "asyncmy":
        raise ValueError(
            f"unsupported MySQL driver {url.get_driver_name()!r}: use mysql+asyncmy://"
        )
    return url


def _roll_back_if_open(dbapi_connection: Any, _record: Any, reset_state: PoolResetState) -> None:
    """A connection back in the pool ends any transaction it still has open, and only then.

    A session that ended its transaction (commit, or the rollback of its close) has already
    told the server; a second ROLLBACK would be a round trip that carries nothing, on every
    request. The server reports whether a transaction is open in every reply's status flags
    (SERVER_STATUS_IN_TRANS), which asyncmy keeps: a connection returned mid-transaction (an
    error, a cancelled request) is rolled back as before."""
    if reset_state.terminate_only:
        return  # being discarded: nothing to reset
    if dbapi_connection.driver_connection.get_transaction_status():
        dbapi_connection.rollback()


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
        parsed = mysql_url(parsed).set(query=query)
        engine = create_async_engine(
            parsed,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_recycle=settings.db_pool_recycle,
            # A checkout first pings the pooled connection, so links cut while the database
            # was away are replaced by fresh ones and service resumes on its own.
            pool_pre_ping=True,
            # The pool's own rollback on return is `_roll_back_if_open` below.
            pool_reset_on_return=None,
            async_creator=_bounded_mysql_connect(
                parsed, settings.db_connect_timeout, settings.db_read_timeout
            ),
        )
        event.listen(engine.sync_engine, "reset", _roll_back_if_open)
        return engine
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
