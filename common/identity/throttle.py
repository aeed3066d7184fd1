"""Failed-login throttling per account and per client address, shared by every replica.

Each login attempt first counts as a failure, in its own committed transaction, before the
password is checked; a successful login then takes it back. Counting up front is what keeps
the limit exact under concurrency: N parallel guesses cannot all see "below the limit" and
all run, because each one's increment is visible to the next before any hashing starts. The
counters live in the database since replicas share nothing else.

Windows are fixed: they start at the first failure and last `LOGIN_FAILURE_WINDOW_SECONDS`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, and_, case, delete, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.dialect import upsert
from common.db.types import UTCDateTime
from common.models.identity import LoginThrottle

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class ThrottleKey:
    scope: str
    subject_hash: str
    limit: int


def login_keys(*, email: str, address: str, settings: Settings) -> tuple[ThrottleKey, ThrottleKey]:
    """The account key is the normalized e-mail whether or not an account has it, so an
    unknown e-mail is throttled exactly like a real one."""
    return (
        ThrottleKey(ACCOUNT, _digest(email), settings.login_max_failures_per_account),
        ThrottleKey(ADDRESS, _digest(address), settings.login_max_failures_per_address),
    )


def _digest(subject: str) -> str:
    return hashlib.sha256(subject.encode()).hexdigest()


async def count_attempt(
    session: AsyncSession,
    keys: tuple[ThrottleKey, ...],
    *,
    settings: Settings,
    now: datetime,
) -> int | None:
    """Count one attempt against every key; the seconds to wait if any key is over its limit
    (the caller must then not check the password), else `None`."""
    table = LoginThrottle.__table__
    assert isinstance(table, Table)
    window = timedelta(seconds=settings.login_failure_window_seconds)
    window_over = table.c.window_started_at <= literal(now - window, UTCDateTime())
    # Keys are upserted in one fixed order so concurrent logins lock rows in the same order.
    for key in sorted(keys, key=lambda k: (k.scope, k.subject_hash)):
        statement = upsert(
            session.get_bind().dialect.name,
            table,
            conflict_columns=["scope", "subject_hash"],
            # On MySQL later assignments see earlier ones, so `failures` goes first: both
            # must read the window as it was before this attempt.
            set_=lambda _new: {
                "failures": case((window_over, 1), else_=table.c.failures + 1),
                "window_started_at": case(
                    (window_over, literal(now, UTCDateTime())), else_=table.c.window_started_at
                ),
            },
        ).values(scope=key.scope, subject_hash=key.subject_hash, failures=1, window_started_at=now)
        await session.execute(statement)
    rows = (
        await session.execute(
            select(
                LoginThrottle.scope,
                LoginThrottle.subject_hash,
                LoginThrottle.failures,
                LoginThrottle.window_started_at,
            ).where(_any_of(keys))
        )
    ).all()
    limits = {(key.scope, key.subject_hash): key.limit for key in keys}
    waits = [
        (row.window_started_at + window - now).total_seconds()
        for row in rows
        if row.failures > limits[(row.scope, row.subject_hash)]
    ]
    return max(1, math.ceil(max(waits))) if waits else None


async def forgive_attempt(
    session: AsyncSession, *, account: ThrottleKey, address: ThrottleKey
) -> None:
    """After a successful login: the account starts afresh, and the address gets back the
    attempt it was charged (other failures from that address still count)."""
    await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.scope == account.scope,
            LoginThrottle.subject_hash == account.subject_hash,
        )
    )
    await session.execute(
        update(LoginThrottle)
        .where(
            LoginThrottle.scope == address.scope,
            LoginThrottle.subject_hash == address.subject_hash,
            LoginThrottle.failures > 0,
        )
        .values(failures=LoginThrottle.failures - 1)
    )


def _any_of(keys: tuple[ThrottleKey, ...]) -> ColumnElement[bool]:
    return or_(
        *(
            and_(LoginThrottle.scope == key.scope, LoginThrottle.subject_hash == key.subject_hash)
            for key in keys
        )
    )
