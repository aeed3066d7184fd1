"""Column types shared by every model: money, UTC timestamps, exactly compared strings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator, TypeEngine

CENT = Decimal("0.01")


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC (the only kind of datetime we store)."""
    return datetime.now(UTC)


class Money(TypeDecorator[Decimal]):
    """DECIMAL(12,2) everywhere, returned as `Decimal` on every backend.

    MySQL stores exact decimals. SQLite has no decimal type: values travel as floats, which is
    exact for 12 significant digits, and are quantized back to cents on the way out.
    """

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(12, 2, asdecimal=False))
        return dialect.type_descriptor(Numeric(12, 2))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value).quantize(CENT)
        return float(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):
            value = repr(value)
        return Decimal(value).quantize(CENT)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC (DATETIME(6) on MySQL), returned timezone-aware.

    A naive datetime is refused at bind time: guessing its zone is how data gets corrupted.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def binary_varchar(length: int) -> String:
    """A VARCHAR compared byte for byte on MySQL too (its default collation folds case and
    accents), so a unique key means the same thing on every backend."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )
