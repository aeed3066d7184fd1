"""Every difference between MySQL/MariaDB and SQLite that the services need, in one place.

Services build statements with these helpers and never branch on the dialect themselves:

- `date_bucket(interval, date_expr)`: the first day of the day/week/month/quarter/year bucket
  of a DATE expression (weeks are ISO weeks, starting on Monday).
- `upsert(dialect_name, table, ...)`: INSERT that updates on a key conflict
  (`ON DUPLICATE KEY UPDATE` / `ON CONFLICT DO UPDATE`).
- `accumulate(dialect, table, key=..., columns=...)`: the same for counters (insert the row, or
  add its values to the row with that key), compiled once: SQLAlchemy 2.0 cannot cache upsert
  constructs and would compile one on every execution.
- Row locks: `select(...).with_for_update(skip_locked=...)` is portable as it is. MySQL takes
  row locks; SQLite renders nothing because it serializes writers with one database lock, and a
  writer that loses the race gets "database is locked", which `is_retryable` accepts.
  `begin_writing(session, table, ids)` makes a check-then-write sequence start with the write
  lock on SQLite, as the row locks that follow it do on MySQL.
- `is_retryable` / `is_unavailable`: classify driver errors (deadlock, lock wait and Galera's
  certification failure; lost server, and a Galera node that is not synced).
- `violates_unique(error, table, column)`: an INSERT/UPDATE lost a race on a unique key.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import Date, Table, TextClause, bindparam, text, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

Interval = Literal["day", "week", "month", "quarter", "year"]
INTERVALS: tuple[Interval, ...] = ("day", "week", "month", "quarter", "year")

# MySQL server error numbers.
ER_LOCK_WAIT_TIMEOUT = 1205
ER_LOCK_DEADLOCK = 1213
ER_DUP_ENTRY = 1062
# Client-side (CR_*) numbers that mean the server cannot be reached or the link dropped.
CR_CONN_HOST_ERROR = 2003
CR_SERVER_LOST = 2013
# The server refusing work it would do once it can again: at `max_connections` (1040), at the
# account's own MAX_USER_CONNECTIONS (1226), read-only (1290, e.g. a primary being switched
# over) or shutting down (1053); or ending the link itself: killed (MariaDB's 1927) or idle past
# `wait_timeout` (MySQL 8's 4031). As unavailable as a server that is down, and as temporary:
# a 503 with Retry-After, never a 500.
ER_CON_COUNT_ERROR = 1040
# A Galera node that is not synced with its cluster (joining, donating, or cut off from the
# primary component) refuses every statement with "WSREP has not yet prepared node for
# application use": that node is unavailable, not the request wrong. (A certification
# failure, two nodes committing conflicting writes, arrives as the deadlock error 1213.)
ER_UNKNOWN_COM_ERROR = 1047
ER_SERVER_SHUTDOWN = 1053
ER_TOO_MANY_USER_CONNECTIONS = 1226
ER_OPTION_PREVENTS_STATEMENT = 1290
ER_CONNECTION_KILLED = 1927
ER_CLIENT_INTERACTION_TIMEOUT = 4031
_CONNECTION_LOST = {
    2002,
    CR_CONN_HOST_ERROR,
    2005,
    2006,
    CR_SERVER_LOST,
    2055,
    ER_CON_COUNT_ERROR,
    ER_UNKNOWN_COM_ERROR,
    ER_SERVER_SHUTDOWN,
    ER_TOO_MANY_USER_CONNECTIONS,
    ER_OPTION_PREVENTS_STATEMENT,
    ER_CONNECTION_KILLED,
    ER_CLIENT_INTERACTION_TIMEOUT,
}


class date_bucket(FunctionElement[Any]):
    """`date_bucket("month", sale.c.business_date)` -> first day of that month, as a DATE."""

    type = Date()
    inherit_cache = True
    name = "date_bucket"
    # The interval changes the SQL, so it must be part of the statement cache key.
    _traverse_internals = [
        *FunctionElement._traverse_internals,
        ("interval", InternalTraversal.dp_string),
    ]

    def __init__(
        self, interval: Interval, expr: ColumnElement[Any] | QueryableAttribute[Any]
    ) -> None:
        if interval not in INTERVALS:
            raise ValueError(f"unknown interval {interval!r}")
        self.interval = interval
        super().__init__(expr)


def _bucket_argument(element: date_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    (expr,) = element.clauses.clauses
    return compiler.process(expr, **kw)


@compiles(date_bucket, "mysql")
def _date_bucket_mysql(element: date_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    d = _bucket_argument(element, compiler, **kw)
    return {
        "day": f"DATE({d})",
        "week": f"DATE_SUB(DATE({d}), INTERVAL WEEKDAY({d}) DAY)",
        "month": f"DATE_SUB(DATE({d}), INTERVAL DAYOFMONTH({d}) - 1 DAY)",
        "quarter": f"(MAKEDATE(YEAR({d}), 1) + INTERVAL QUARTER({d}) - 1 QUARTER)",
        "year": f"MAKEDATE(YEAR({d}), 1)",
    }[element.interval]


@compiles(date_bucket, "sqlite")
def _date_bucket_sqlite(element: date_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    d = _bucket_argument(element, compiler, **kw)
    return {
        "day": f"date({d})",
        "week": f"date({d}, '-' || ((CAST(strftime('%w', {d}) AS INTEGER) + 6) % 7) || ' days')",
        "month": f"date({d}, 'start of month')",
        "quarter": (
            f"date({d}, 'start of month', "
            f"'-' || ((CAST(strftime('%m', {d}) AS INTEGER) - 1) % 3) || ' months')"
        ),
        "year": f"date({d}, 'start of year')",
    }[element.interval]


def upsert(
    dialect_name: str,
    table: Table,
    *,
    conflict_columns: Sequence[str],
    set_: Callable[[Any], Mapping[str, Any]],
) -> Insert:
    """An INSERT that, on a conflict of `conflict_columns`, applies `set_(incoming)` instead.

    `incoming` gives the columns of the row that was proposed (`VALUES(x)` / `excluded.x`), so
    `set_=lambda new: {"units": table.c.units + new.units}` accumulates.
    """
    if dialect_name in ("mysql", "mariadb"):
        mysql_stmt = mysql.insert(table)
        return mysql_stmt.on_duplicate_key_update(dict(set_(mysql_stmt.inserted)))
    if dialect_name == "sqlite":
        sqlite_stmt = sqlite.insert(table)
        return sqlite_stmt.on_conflict_do_update(
            index_elements=list(conflict_columns), set_=dict(set_(sqlite_stmt.excluded))
        )
    raise ValueError(f"no upsert for dialect {dialect_name!r}")


def accumulate(
    dialect: Dialect, table: Table, *, key: Sequence[str], columns: Sequence[str]
) -> TextClause:
    """INSERT a row of `key` + `columns`, or add its `columns` to the row that has its `key`.

    Executed with one dict of those values per row. The statement is compiled once per
    dialect and table into a `text()` with the columns' types, which SQLAlchemy caches like
    any other statement (an upsert construct has no cache key, so it would be compiled anew
    on every execution, which on a hot path costs more than the database takes to run it)."""
    return _accumulate(dialect, table, tuple(key), tuple(columns))


@lru_cache(maxsize=32)
def _accumulate(
    dialect: Dialect, table: Table, key: tuple[str, ...], columns: tuple[str, ...]
) -> TextClause:
    statement = upsert(
        dialect.name,
        table,
        conflict_columns=key,
        set_=lambda incoming: {name: table.c[name] + incoming[name] for name in columns},
    ).values({name: bindparam(name, type_=table.c[name].type) for name in (*key, *columns)})
    # The engine's own dialect (its server version decides how MySQL spells the incoming row),
    # with named parameters so that `text()` can bind them by name.
    named = copy.copy(dialect)
    named.paramstyle, named.positional = "named", False
    compiled = statement.compile(dialect=named)
    if set(compiled.binds) != {*key, *columns} or "%" in compiled.string:
        raise ValueError(f"cannot precompile {compiled.string!r}")
    return text(compiled.string).bindparams(
        *(bindparam(name, type_=table.c[name].type) for name in (*key, *columns))
    )


async def begin_writing(session: AsyncSession, table: Table, ids: Sequence[int]) -> None:
    """On SQLite, take the database write lock now with an UPDATE that changes nothing.

    SQLite lets one writer in at a time, and a transaction that read before another writer
    committed may not write at all afterwards; holding the write lock from the start makes
    what the transaction reads next exactly what it writes against, as a MySQL row lock
    does. On MySQL this does nothing: callers lock rows with `FOR UPDATE`.
    """
    if session.get_bind().dialect.name != "sqlite" or not ids:
        return
    (key,) = table.primary_key.columns
    # Every column an UPDATE would otherwise touch (`onupdate` timestamps) keeps its value.
    unchanged = {
        column.name: column
        for column in table.columns
        if column.primary_key or column.onupdate is not None
    }
    await session.execute(update(table).where(key.in_(ids)).values(unchanged))


def _driver_code(error: BaseException) -> int | None:
    orig = getattr(error, "orig", None)
    args = getattr(orig, "args", None)
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _sqlite_message(error: BaseException) -> str:
    orig = getattr(error, "orig", None)
    if orig is not None and type(orig).__module__.startswith("sqlite3"):
        return str(orig).lower()
    return ""


def is_retryable(error: BaseException) -> bool:
    """A transient conflict: rerunning the whole unit of work may succeed."""
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if _driver_code(error) in (ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT):
        return True
    return "database is locked" in _sqlite_message(error)


def is_unavailable(error: BaseException) -> bool:
    """The database cannot be reached (down, refused, dropped link, pool exhausted)."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection in time
        return True
    if isinstance(error, (TimeoutError, ConnectionError)):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated or _driver_code(error) in _CONNECTION_LOST:
        return True
    return "unable to open database file" in _sqlite_message(error)


def violates_unique(error: BaseException, table: str, column: str) -> bool:
    """The error is a duplicate on `table.column`'s unique key: MySQL names the key (the naming
    convention's `uq_<table>_<column>`, table-qualified on MySQL 8), SQLite the column."""
    if not isinstance(error, sa_exc.IntegrityError):
        return False
    if _driver_code(error) == ER_DUP_ENTRY:
        key = f"uq_{table}_{column}"
        message = str(error.orig)
        return f"for key '{key}'" in message or f"for key '{table}.{key}'" in message
    return f"unique constraint failed: {table}.{column}" in _sqlite_message(error)
