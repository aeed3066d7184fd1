"""Database plumbing: engines, sessions, the declarative base, column types, dialect helpers."""

from common.db.base import Base, TimestampMixin
from common.db.engine import Database, build_engine, build_session_factory
from common.db.transaction import run_in_transaction
from common.db.types import Money, UTCDateTime, utcnow

__all__ = [
    "Base",
    "Database",
    "Money",
    "TimestampMixin",
    "UTCDateTime",
    "build_engine",
    "build_session_factory",
    "run_in_transaction",
    "utcnow",
]
